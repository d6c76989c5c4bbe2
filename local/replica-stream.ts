import type { DynamoWire, WireItem } from "./dynamodb-wire.ts";
import type { ChangeRecord, Replica } from "./table-replication.ts";

interface Shard {
  readonly ShardId: string;
  readonly ParentShardId?: string;
}

interface StreamRecordWire {
  readonly dynamodb?: { Keys?: WireItem; NewImage?: WireItem };
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
  /** Iterators of the shards being read. */
  private readonly open = new Map<string, string>();
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

  /** Starts reading the stream from its oldest record (the table was just created). */
  async start(): Promise<void> {
    const described = await this.wire.call<{ Table?: { LatestStreamArn?: string } }>(
      "dynamodb",
      "DescribeTable",
      { TableName: this.table },
    );
    const arn = described.Table?.LatestStreamArn;
    if (!arn) throw new Error(`${this.table} in ${this.region} has no stream`);
    this.streamArn = arn;
    await this.discover();
  }

  async readChanges(): Promise<ChangeRecord[]> {
    if (Date.now() - this.lastDescribe >= DESCRIBE_EVERY_MS) await this.discover();
    const changes: ChangeRecord[] = [];
    let closed = false;
    for (const [shardId, iterator] of [...this.open]) {
      const page = await this.wire.call<{ Records?: StreamRecordWire[]; NextShardIterator?: string }>(
        "streams",
        "GetRecords",
        { ShardIterator: iterator },
      );
      for (const record of page.Records ?? []) {
        const keys = record.dynamodb?.Keys;
        if (!keys) continue;
        const newImage = record.dynamodb?.NewImage;
        changes.push(newImage ? { keys, newImage } : { keys });
      }
      if (page.NextShardIterator) this.open.set(shardId, page.NextShardIterator);
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

  /** Lists the stream's shards and starts reading those whose parent (if still known) is read. */
  private async discover(): Promise<void> {
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
      const { ShardIterator } = await this.wire.call<{ ShardIterator?: string }>(
        "streams",
        "GetShardIterator",
        { StreamArn: this.streamArn, ShardId: shard.ShardId, ShardIteratorType: "TRIM_HORIZON" },
      );
      if (ShardIterator) this.open.set(shard.ShardId, ShardIterator);
    }
  }
}
