import type { DynamoWire, WireItem } from "./dynamodb-wire.ts";
import type { ChangeRecord, Replica } from "./table-replication.ts";

interface Shard {
  readonly ShardId: string;
  readonly ParentShardId?: string;
}

interface StreamRecordWire {
  readonly dynamodb?: { Keys?: WireItem; NewImage?: WireItem; SequenceNumber?: string };
}

interface OpenShard {
  iterator: string;
  /** The last record read, to read on from after it if the iterator is lost. */
  lastSequence?: string;
}

/** How often the shards of a stream are listed again, to find shards a closed one handed on to. */
const DESCRIBE_EVERY_MS = 5_000;

/**
 * One region's replica of a table in DynamoDB Local: its changes read from the table's stream
 * (DescribeStream, GetShardIterator, GetRecords), shard by shard, a child shard only once its
 * parent is read to its end so that an item's changes stay in order; writes made with PutItem and
 * DeleteItem, returning the item they replaced.
 */
export class ReplicaStream implements Replica {
  private streamArn = "";
  /** The shards being read. */
  private readonly open = new Map<string, OpenShard>();
  /** Shards read to their end. */
  private readonly finished = new Set<string>();
  private lastDescribe = 0;

  constructor(
    private readonly wire: DynamoWire,
    readonly table: string,
  ) {}

  get region(): string {
    return this.wire.region;
  }

  /**
   * Starts reading the stream from its end; the table was just created and nothing else writes to
   * it yet. DynamoDB Local loses its place in an empty shard when its store holds more than one
   * stream: once a record arrives, reading from an iterator taken on the empty shard answers
   * TrimmedDataAccessException. A shard that already holds a record reads fine, so a marker item is
   * written and deleted first.
   */
  async start(): Promise<void> {
    const described = await this.wire.call<{
      Table?: {
        LatestStreamArn?: string;
        KeySchema?: { AttributeName: string }[];
        AttributeDefinitions?: { AttributeName: string; AttributeType: string }[];
      };
    }>("dynamodb", "DescribeTable", { TableName: this.table });
    const arn = described.Table?.LatestStreamArn;
    if (!arn) throw new Error(`${this.table} in ${this.region} has no stream`);
    this.streamArn = arn;
    const types = new Map(
      described.Table?.AttributeDefinitions?.map((a) => [a.AttributeName, a.AttributeType]),
    );
    const marker: WireItem = {};
    for (const { AttributeName: name } of described.Table?.KeySchema ?? []) {
      const type = types.get(name) ?? "S";
      marker[name] = { [type]: type === "N" ? "0" : type === "B" ? "AA==" : "replication-start" };
    }
    await this.write(marker, marker);
    await this.write(marker, undefined);
    await this.discover("LATEST");
  }

  async readChanges(): Promise<ChangeRecord[]> {
    if (Date.now() - this.lastDescribe >= DESCRIBE_EVERY_MS) await this.discover();
    const changes: ChangeRecord[] = [];
    let closed = false;
    for (const [shardId, shard] of [...this.open]) {
      let page: { Records?: StreamRecordWire[]; NextShardIterator?: string };
      try {
        page = await this.wire.call("streams", "GetRecords", { ShardIterator: shard.iterator });
      } catch (error) {
        // An iterator that expired is taken again after the last record read; the error is reported.
        shard.iterator = await this.iterator(
          shardId,
          shard.lastSequence ? "AFTER_SEQUENCE_NUMBER" : "LATEST",
          shard.lastSequence,
        );
        throw error;
      }
      for (const record of page.Records ?? []) {
        const keys = record.dynamodb?.Keys;
        if (record.dynamodb?.SequenceNumber) shard.lastSequence = record.dynamodb.SequenceNumber;
        if (!keys) continue;
        const newImage = record.dynamodb?.NewImage;
        changes.push(newImage ? { keys, newImage: withEmptyMaps(newImage) } : { keys });
      }
      if (page.NextShardIterator) shard.iterator = page.NextShardIterator;
      else {
        this.open.delete(shardId);
        this.finished.add(shardId);
        closed = true;
      }
    }
    if (closed) await this.discover();
    return changes;
  }

  async write(keys: WireItem, image: WireItem | undefined): Promise<WireItem | undefined> {
    const reply = await this.wire.call<{ Attributes?: WireItem }>(
      "dynamodb",
      image ? "PutItem" : "DeleteItem",
      image
        ? { TableName: this.table, Item: image, ReturnValues: "ALL_OLD" }
        : { TableName: this.table, Key: keys, ReturnValues: "ALL_OLD" },
    );
    return reply.Attributes;
  }

  /**
   * Lists the stream's shards and starts reading those whose parent (if still known) is read: from
   * their first record, but at start from their end.
   */
  private async discover(from: "TRIM_HORIZON" | "LATEST" = "TRIM_HORIZON"): Promise<void> {
    this.lastDescribe = Date.now();
    const shards: Shard[] = [];
    let start: string | undefined;
    do {
      const page = await this.wire.call<{
        StreamDescription?: { Shards?: Shard[]; LastEvaluatedShardId?: string };
      }>("streams", "DescribeStream", {
        StreamArn: this.streamArn,
        ...(start ? { ExclusiveStartShardId: start } : {}),
      });
      shards.push(...(page.StreamDescription?.Shards ?? []));
      start = page.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    const known = new Set(shards.map((s) => s.ShardId));
    for (const shard of shards) {
      if (this.open.has(shard.ShardId) || this.finished.has(shard.ShardId)) continue;
      const parent = shard.ParentShardId;
      if (parent && known.has(parent) && !this.finished.has(parent)) continue;
      this.open.set(shard.ShardId, { iterator: await this.iterator(shard.ShardId, from) });
    }
  }

  private async iterator(shardId: string, type: string, after?: string): Promise<string> {
    const { ShardIterator } = await this.wire.call<{ ShardIterator?: string }>(
      "streams",
      "GetShardIterator",
      {
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(after ? { SequenceNumber: after } : {}),
      },
    );
    if (!ShardIterator) throw new Error(`no iterator for shard ${shardId} of ${this.table}`);
    return ShardIterator;
  }
}

/**
 * DynamoDB Local's stream records write an empty map as `{}` instead of `{ "M": {} }` (at any depth),
 * which no write accepts back. No other attribute value is ever empty, so `{}` is an empty map.
 */
function withEmptyMaps(item: WireItem): WireItem {
  const value = (v: unknown): unknown => {
    if (!v || typeof v !== "object") return v;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) return { M: {} };
    const [type, inner] = entries[0] as [string, unknown];
    if (type === "M") return { M: withEmptyMaps(inner as WireItem) };
    if (type === "L") return { L: (inner as unknown[]).map(value) };
    return v;
  };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, value(v)]));
}
