import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Attributes } from "../domain/render.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { keyBoundaries } from "./dynamo/key-ranges.ts";
import { SUBSCRIBER_PREFIX, subscriberPk } from "./dynamo/keys.ts";

/** Key ranges a whole list is read in at once. */
const SCAN_RANGES = 8;

/** A subscriber as the fan-out reads it. */
interface FanoutSubscriber {
  readonly email: string;
  readonly attributes: Attributes;
  readonly status: string;
  /** When the address joined the list. */
  readonly createdAt?: string;
}

export interface SubscriberPage {
  readonly subscribers: FanoutSubscriber[];
  /** Opaque checkpoint of the next page; absent on the last page. */
  readonly next?: string;
}

/** A cut of a list: `count` subscribers up to `last` (a key cursor), and whether any may follow. */
export interface ListCut {
  readonly count: number;
  readonly last?: string;
  readonly more: boolean;
}

/**
 * The fan-out's reads of a list's subscribers (SubscriberStore's items, read only): the reader cuts
 * the list into slices by key range, and each slice's worker pages its range. Strongly consistent,
 * so a subscriber written before the fan-out reached its place is never missed.
 */
export class SubscriberFanoutReads {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** The next `size` subscribers after `after` (keys only): where the next slice ends. */
  async cut(listId: string, after: string | undefined, size: number): Promise<ListCut> {
    let start: Record<string, unknown> | undefined = decodeKeyCursor(
      after,
      subscriberPk(listId),
      SUBSCRIBER_PREFIX,
    );
    let count = 0;
    let last: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
          ExpressionAttributeValues: { ":pk": subscriberPk(listId), ":sub": SUBSCRIBER_PREFIX },
          ProjectionExpression: "pk, sk",
          ExclusiveStartKey: start,
          Limit: size - count,
          ConsistentRead: true,
        }),
      );
      const items = out.Items ?? [];
      count += items.length;
      last = items.at(-1) ?? last;
      start = out.LastEvaluatedKey;
    } while (start && count < size);
    const cursor = encodeKeyCursor(last);
    return { count, ...(cursor ? { last: cursor } : {}), more: start !== undefined };
  }

  /** A page of the subscribers after `after` up to and including `upTo` (key cursors). */
  async page(
    listId: string,
    after: string | undefined,
    upTo: string,
    limit: number,
  ): Promise<SubscriberPage> {
    const pk = subscriberPk(listId);
    const end = decodeKeyCursor(upTo, pk, SUBSCRIBER_PREFIX);
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :sub AND :last",
        ExpressionAttributeValues: { ":pk": pk, ":sub": SUBSCRIBER_PREFIX, ":last": end?.sk },
        ExclusiveStartKey: decodeKeyCursor(after, pk, SUBSCRIBER_PREFIX),
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const next = encodeKeyCursor(out.LastEvaluatedKey);
    return { subscribers: (out.Items ?? []).map(toFanoutSubscriber), ...(next ? { next } : {}) };
  }

  /**
   * Every subscriber of a list, to `onPage` a page at a time, tagged with the range it came from:
   * the list is read as SCAN_RANGES key ranges of similar width at once (one partition read by one
   * query at a time is slow: DynamoDB Local takes 13 s for 100,000 subscribers, 8 ranges 3 s).
   * Within a range pages come in address order, and range i holds addresses before range i + 1's.
   * Strongly consistent. For a segment's preview.
   */
  async scan(
    listId: string,
    onPage: (subscribers: FanoutSubscriber[], range: number) => void | Promise<void>,
  ): Promise<void> {
    const pk = subscriberPk(listId);
    const edge = async (forward: boolean) => {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
          ExpressionAttributeValues: { ":pk": pk, ":sub": SUBSCRIBER_PREFIX },
          ProjectionExpression: "sk",
          ScanIndexForward: forward,
          Limit: 1,
          ConsistentRead: true,
        }),
      );
      return out.Items?.[0]?.sk as string | undefined;
    };
    const [first, last] = await Promise.all([edge(true), edge(false)]);
    if (first === undefined || last === undefined) return;
    const edges = [first, ...keyBoundaries(first, last, SCAN_RANGES), last];
    await Promise.all(
      edges.slice(0, -1).map(async (low, range) => {
        const high = edges[range + 1] as string;
        // A range ends before its upper edge, which the next range starts with; the last holds it.
        const inRange = (sk: unknown) => range === edges.length - 2 || sk !== high;
        let start: Record<string, unknown> | undefined;
        do {
          const out = await this.db.send(
            new QueryCommand({
              TableName: this.table,
              KeyConditionExpression: "pk = :pk AND sk BETWEEN :low AND :high",
              ExpressionAttributeValues: { ":pk": pk, ":low": low, ":high": high },
              ProjectionExpression: "sk, email, attributes, #status, createdAt",
              ExpressionAttributeNames: { "#status": "status" },
              ExclusiveStartKey: start,
              ConsistentRead: true,
            }),
          );
          await onPage((out.Items ?? []).filter((item) => inRange(item.sk)).map(toFanoutSubscriber), range);
          start = out.LastEvaluatedKey;
        } while (start);
      }),
    );
  }
}

function toFanoutSubscriber(item: Record<string, unknown>): FanoutSubscriber {
  return {
    email: item.email as string,
    attributes: (item.attributes ?? {}) as Attributes,
    status: item.status as string,
    ...(typeof item.createdAt === "string" ? { createdAt: item.createdAt } : {}),
  };
}
