import {
  type DynamoDBDocumentClient,
  DeleteCommand,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Consent } from "../domain/opt-in.ts";
import type { Attributes } from "../domain/render.ts";
import { mapLimit } from "../shared/concurrency.ts";
import { batchGetAll, batchWriteAll, type TransactItem, transactWrite } from "./dynamo/batch.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { cancellationCodes, isConditionalFailure } from "./dynamo/errors.ts";
import { listIdOf, listKey, SUBSCRIBER_PREFIX, subscriberKey, subscriberPk } from "./dynamo/keys.ts";
import type { Page } from "./dynamo/cursor.ts";
import { SubscriberFanoutReads } from "./subscriber-fanout.ts";
import { SubscriberOptIn } from "./subscriber-opt-in.ts";
import {
  type AwaitingConfirmation,
  type Resubscription,
  type StoredSubscriber,
  type Subscriber,
  type SubscriberStatus,
  toSubscriber,
  type UnsubscribeOutcome,
  type UpdateOutcome,
  type UpsertResult,
} from "./subscriber-items.ts";

export type {
  AwaitingConfirmation,
  Resubscription,
  StoredSubscriber,
  Subscriber,
  SubscriberStatus,
  UnsubscribeOutcome,
  UpdateOutcome,
  UpsertResult,
};

/**
 * A list's subscribers (`LIST#<id>/SUB#<email>` in the audience table), keyed by normalised
 * address. The only writer of subscriber items, their status included: the API, imports, feedback
 * (bounces, complaints) and unsubscribe links all change a subscriber through this store.
 */
export class SubscriberStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.fanout = new SubscriberFanoutReads(db, table);
    this.optIn = new SubscriberOptIn(db, table, (listId, email) => this.get(listId, email));
  }

  /** Double opt-in: confirmation turns and confirming. */
  readonly optIn: SubscriberOptIn;

  /** The fan-out's reads of a list: cutting it into slices and paging a slice. */
  readonly fanout: SubscriberFanoutReads;

  async get(listId: string, email: string): Promise<StoredSubscriber | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: subscriberKey(listId, email) }),
    );
    return out.Item ? toSubscriber(out.Item) : undefined;
  }

  /** Number of subscribers of a list. Reads the whole partition. */
  async count(listId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          ...this.partition(listId),
          Select: "COUNT",
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /** A page of subscribers in address order (for the API), optionally only those with `status`. */
  async page(
    listId: string,
    options: { status?: SubscriberStatus; limit: number; cursor?: string },
  ): Promise<Page<StoredSubscriber>> {
    const items: StoredSubscriber[] = [];
    let start: Record<string, unknown> | undefined = decodeKeyCursor(
      options.cursor,
      subscriberPk(listId),
      SUBSCRIBER_PREFIX,
    );
    // A filter applies after the read limit, so keep reading until the page is full or the list ends.
    do {
      const partition = this.partition(listId);
      const out = await this.db.send(
        new QueryCommand({
          ...partition,
          ...(options.status
            ? { FilterExpression: "#status = :status", ExpressionAttributeNames: { "#status": "status" } }
            : {}),
          ExpressionAttributeValues: {
            ...partition.ExpressionAttributeValues,
            ...(options.status ? { ":status": options.status } : {}),
          },
          ExclusiveStartKey: start,
          Limit: options.limit - items.length,
        }),
      );
      items.push(...(out.Items ?? []).map(toSubscriber));
      start = out.LastEvaluatedKey;
    } while (start && items.length < options.limit);
    const nextCursor = encodeKeyCursor(start);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** One page of a list's subscribers in key order for the fan-out, resuming after `after` (a previous `next`). */
  /**
   * Current attributes of some of a list's subscribers (ones no longer on the list are left out).
   * Keys that DynamoDB leaves unprocessed are read again until every key is answered; if they
   * cannot be, the call fails rather than return some recipients without their merge fields.
   */
  async subscribersOf(listId: string, emails: readonly string[]): Promise<Subscriber[]> {
    const items = await batchGetAll(
      this.db,
      this.table,
      emails.map((email) => subscriberKey(listId, email)),
    );
    return items.map(toSubscriber);
  }

  /** An address's subscriber items on any of `listIds`, read strongly consistent, as stored. */
  async memberships(
    listIds: readonly string[],
    email: string,
  ): Promise<(StoredSubscriber & { listId: string })[]> {
    const items = await batchGetAll(
      this.db,
      this.table,
      listIds.map((listId) => subscriberKey(listId, email)),
      { consistent: true },
    );
    return items.map((item) => ({ ...toSubscriber(item), listId: listIdOf(item.pk as string) }));
  }

  /**
   * Inserts or updates subscribers. A new subscriber starts `subscribed`; an existing one keeps its
   * status, so re-importing a list never re-subscribes someone who left.
   *
   * False when the list is gone after the writes (deleted while they were in flight): the items just
   * written are erased again, since its erasure may have finished before they landed. A list still
   * there after the writes was deleted after them, if at all, so its erasure finds them.
   */
  async upsert(
    listId: string,
    subscribers: readonly Omit<Subscriber, "status">[],
    now: string,
    how: { readonly consent: Consent; readonly pending?: boolean },
  ): Promise<UpsertResult> {
    const awaiting: AwaitingConfirmation[] = [];
    const created: string[] = [];
    const updated: string[] = [];
    await mapLimit(subscribers, 16, async (s) => {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: subscriberKey(listId, s.email),
          UpdateExpression:
            "SET email = :email, attributes = :attributes, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), #status = if_not_exists(#status, :initial), consent = if_not_exists(consent, :consent), #type = :type",
          ExpressionAttributeNames: { "#status": "status", "#type": "type" },
          ExpressionAttributeValues: {
            ":email": s.email,
            ":attributes": s.attributes,
            ":now": now,
            ":initial": how.pending ? "pending" : "subscribed",
            ":consent": how.consent,
            ":type": "subscriber",
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = out.Attributes ?? {};
      (item.createdAt === now ? created : updated).push(s.email);
      if (item.status === "pending" && item.confirmationRequestedAt === undefined)
        awaiting.push({ email: s.email, since: String(item.createdAt) });
    });
    const list = await this.db.send(
      new GetCommand({ TableName: this.table, Key: listKey(listId), ConsistentRead: true }),
    );
    if (list.Item) return { kept: true, awaiting, created, updated };
    await batchWriteAll(
      this.db,
      this.table,
      subscribers.map((s) => ({ DeleteRequest: { Key: subscriberKey(listId, s.email) } })),
    );
    return { kept: false, awaiting: [], created: [], updated: [] };
  }

  /**
   * Changes a subscriber's attributes and/or status. An opt-out (`unsubscribed`, `bounced`,
   * `complained`) becomes `subscribed` again only with `resubscribe`, which is recorded on the
   * subscriber; without it the opt-out is kept and nothing changes.
   */
  async update(
    listId: string,
    email: string,
    changes: { attributes?: Attributes; status?: SubscriberStatus; resubscribe?: Resubscription },
    now: string,
  ): Promise<UpdateOutcome> {
    const sets = ["updatedAt = :now"];
    const values: Record<string, unknown> = { ":now": now };
    let condition = "attribute_exists(pk)";
    if (changes.attributes) {
      sets.push("attributes = :attributes");
      values[":attributes"] = changes.attributes;
    }
    if (changes.status) {
      sets.push("#status = :status");
      values[":status"] = changes.status;
    }
    if (changes.status === "subscribed" && changes.resubscribe) {
      sets.push("resubscribed = :resubscribed");
      values[":resubscribed"] = changes.resubscribe;
    } else if (changes.status === "subscribed") {
      condition += " AND #status = :status";
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: subscriberKey(listId, email),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: condition,
          ...(changes.status ? { ExpressionAttributeNames: { "#status": "status" } } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return { kind: "updated", subscriber: toSubscriber(out.Attributes ?? {}) };
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      const current = await this.get(listId, email);
      return current ? { kind: "opt-out-kept", status: current.status } : { kind: "absent" };
    }
  }

  /** Erases one subscriber (GDPR Art. 17). The suppression list is untouched. False if absent. */
  async delete(listId: string, email: string): Promise<boolean> {
    const out = await this.db.send(
      new DeleteCommand({
        TableName: this.table,
        Key: subscriberKey(listId, email),
        ReturnValues: "ALL_OLD",
      }),
    );
    return out.Attributes !== undefined;
  }

  /**
   * Erases up to about `max` subscribers of a deleted list. Returns true when the list's partition is
   * empty. The suppression list lives in its own partition and is never touched, so an erased
   * address stays suppressed. `beforeErase` gets each page's addresses before their items go (the
   * ledger erasure: the addresses are what finds their ledger items).
   */
  async erasePartition(
    listId: string,
    max: number,
    beforeErase: (emails: string[]) => Promise<void> = async () => undefined,
  ): Promise<boolean> {
    let erased = 0;
    while (erased < max) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": subscriberPk(listId) },
          ProjectionExpression: "pk, sk, email",
          Limit: 500,
          ConsistentRead: true,
        }),
      );
      const keys = (out.Items ?? []).map((item) => ({ pk: item.pk as string, sk: item.sk as string }));
      if (keys.length === 0) return true;
      await beforeErase(
        (out.Items ?? []).flatMap((item) => (typeof item.email === "string" ? [item.email] : [])),
      );
      await batchWriteAll(
        this.db,
        this.table,
        keys.map((key) => ({ DeleteRequest: { Key: key } })),
      );
      erased += keys.length;
    }
    return false;
  }

  /** `subscribed → bounced | complained` (SES feedback); any other status is left as it is. */
  async markFeedback(
    listId: string,
    email: string,
    status: "bounced" | "complained",
    at: string,
  ): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: subscriberKey(listId, email),
          UpdateExpression: "SET #status = :status, updatedAt = :at",
          ConditionExpression: "#status = :subscribed",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": status, ":subscribed": "subscribed", ":at": at },
        }),
      );
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }

  /**
   * One-click unsubscribe: `subscribed → unsubscribed`. With `alsoWrite` (the campaign's
   * `unsubscribed` counter), the status change and that write happen in one transaction, so the
   * counter moves exactly once. Repeating it, or unsubscribing someone who is not subscribed,
   * changes nothing. When only `alsoWrite`'s condition fails (its item is gone), the subscriber is
   * unsubscribed without it.
   */
  async unsubscribe(
    listId: string,
    email: string,
    now: string,
    alsoWrite?: TransactItem,
  ): Promise<UnsubscribeOutcome> {
    const update = {
      TableName: this.table,
      Key: subscriberKey(listId, email),
      UpdateExpression: "SET #status = :unsubscribed, unsubscribedAt = :now, updatedAt = :now",
      ConditionExpression: "#status IN (:subscribed, :pending)",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":unsubscribed": "unsubscribed",
        ":subscribed": "subscribed",
        ":pending": "pending",
        ":now": now,
      },
    };
    if (alsoWrite) {
      try {
        await transactWrite(this.db, [{ Update: update }, alsoWrite]);
        return "unsubscribed";
      } catch (error) {
        const codes = cancellationCodes(error);
        if (codes?.[0] === "ConditionalCheckFailed") return "unchanged";
        if (codes?.[1] !== "ConditionalCheckFailed") throw error;
      }
    }
    try {
      await this.db.send(new UpdateCommand(update));
      return "unsubscribed";
    } catch (error) {
      if (isConditionalFailure(error)) return "unchanged";
      throw error;
    }
  }

  private partition(listId: string) {
    return {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
      ExpressionAttributeValues: { ":pk": subscriberPk(listId), ":sub": SUBSCRIBER_PREFIX } as Record<
        string,
        unknown
      >,
    };
  }
}
