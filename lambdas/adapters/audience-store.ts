import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import type { Attributes } from "../domain/render.ts";
import { chunk, mapLimit } from "../shared/concurrency.ts";
import { isConditionalFailure } from "./dynamo-errors.ts";
import { decodeCursor, encodeCursor } from "./page-cursor.ts";

/**
 * The audience table: lists, subscribers, campaigns and API keys, one partition per list or
 * campaign.
 *
 *   LIST#<id>      #META          the list
 *   LIST#<id>      SUB#<email>    a subscriber
 *   CAMPAIGN#<id>  #META          a campaign, its fan-out checkpoint and final counts
 *   APIKEY#<hash>  #META          an API key (SHA-256 of the secret; never the secret)
 *   ACTIVE         <campaignId>   a campaign that is sending: the scheduler watches these
 *   LISTS          <createdAt>#<id>   index of lists, for paging
 *   CAMPAIGNS      <createdAt>#<id>   index of campaigns, for paging
 *   APIKEYS        <id>               index of API keys: name, scopes and the hash (never the secret)
 *   SCHEDULED      <scheduledAt>#<id> a scheduled campaign, due when its time has come
 *   ERASURE        <listId>           a deleted list whose subscribers are still being erased
 *   SUPPRESSION    <email>            the suppression list: never deleted by an erasure
 */
export type SubscriberStatus = "subscribed" | "unsubscribed" | "bounced" | "complained";

export interface MailingList {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}

export interface Subscriber {
  readonly email: string;
  readonly attributes: Attributes;
  readonly status: SubscriberStatus;
}

export interface SubscriberPage {
  readonly subscribers: Subscriber[];
  /** Opaque checkpoint of the next page; absent on the last page. */
  readonly next?: string;
}

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
}

export interface ApiKeyView extends ApiKeyRecord {
  readonly createdAt: string;
}

export interface StoredSubscriber extends Subscriber {
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

/** Fields of a draft campaign that PATCH may set; `remove` names optional fields to clear. */
export interface CampaignChanges {
  readonly set: Readonly<Record<string, unknown>>;
  readonly remove: readonly string[];
}

const META = "#META";
const listPk = (id: string) => `LIST#${id}`;
const campaignPk = (id: string) => `CAMPAIGN#${id}`;

export class AudienceStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async createList(list: MailingList): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: { pk: listPk(list.id), sk: META, type: "list", ...list },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: this.table,
              Item: { pk: "LISTS", sk: `${list.createdAt}#${list.id}`, type: "list-index", id: list.id },
            },
          },
        ],
      }),
    );
  }

  /** Lists, newest first. */
  async pageLists(limit: number, cursor?: string): Promise<Page<MailingList>> {
    return this.pageIndex("LISTS", listPk, limit, cursor, (item) => [
      { id: item.id, name: item.name, createdAt: item.createdAt } as MailingList,
    ]);
  }

  /**
   * One page of an index partition (`LISTS`, `CAMPAIGNS`: newest first), each entry resolved to
   * its item, which `present` turns into zero or one result.
   */
  private async pageIndex<T>(
    indexPk: string,
    itemPk: (id: string) => string,
    limit: number,
    cursor: string | undefined,
    present: (item: Record<string, unknown>) => T[],
  ): Promise<Page<T>> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": indexPk },
        ExclusiveStartKey: decodeCursor(cursor, indexPk),
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    const ids = (out.Items ?? []).map((item) => item.id as string);
    const metas = await this.batchGet(ids.map((id) => ({ pk: itemPk(id), sk: META })));
    const items = ids.flatMap((id) => {
      const item = metas.get(itemPk(id));
      return item ? present(item) : [];
    });
    const nextCursor = encodeCursor(out.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Renames a list; undefined when there is no such list. */
  async renameList(id: string, name: string, now: string): Promise<MailingList | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: listPk(id), sk: META },
          UpdateExpression: "SET #name = :name, updatedAt = :now",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#name": "name" },
          ExpressionAttributeValues: { ":name": name, ":now": now },
          ReturnValues: "ALL_NEW",
        }),
      );
      const item = out.Attributes ?? {};
      return { id: item.id, name: item.name, createdAt: item.createdAt };
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Deletes a list and records that its subscribers must be erased (GDPR Art. 17), in one
   * transaction: the erasure record is the durable to-do that the importer works off, so the data
   * is erased even if the process dies right after this call. False when there is no such list.
   */
  async deleteList(list: MailingList, now: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: { pk: listPk(list.id), sk: META },
                ConditionExpression: "attribute_exists(pk)",
              },
            },
            { Delete: { TableName: this.table, Key: { pk: "LISTS", sk: `${list.createdAt}#${list.id}` } } },
            {
              Put: {
                TableName: this.table,
                Item: { pk: "ERASURE", sk: list.id, type: "erasure", requestedAt: now, enqueuedAt: now },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /** Lists whose erasure was requested before `before` and is not finished (for the scheduler). */
  async pendingErasures(before: string): Promise<string[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        FilterExpression: "enqueuedAt < :before",
        ExpressionAttributeValues: { ":pk": "ERASURE", ":before": before },
      }),
    );
    return (out.Items ?? []).map((item) => item.sk as string);
  }

  async markErasureEnqueued(listId: string, now: string): Promise<void> {
    await this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: "ERASURE", sk: listId },
        UpdateExpression: "SET enqueuedAt = :now",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":now": now },
      }),
    );
  }

  /**
   * Erases up to `max` items of a deleted list's partition (its subscribers). Returns true when the
   * partition is empty and the erasure record is gone. The suppression list lives in its own
   * partition and is never touched, so an erased address stays suppressed.
   */
  async eraseListPartition(listId: string, max: number): Promise<boolean> {
    if (await this.getList(listId)) return this.finishErasure(listId); // the list lives: nothing to erase
    let erased = 0;
    while (erased < max) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": listPk(listId) },
          ProjectionExpression: "pk, sk",
          Limit: 500,
          ConsistentRead: true,
        }),
      );
      const keys = (out.Items ?? []).map((item) => ({ pk: item.pk as string, sk: item.sk as string }));
      if (keys.length === 0) return this.finishErasure(listId);
      await this.batchDelete(keys);
      erased += keys.length;
    }
    return false;
  }

  private async finishErasure(listId: string): Promise<boolean> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: "ERASURE", sk: listId } }));
    return true;
  }

  /** Number of subscribers of a list (optionally with one status). Reads the whole partition. */
  async countSubscribers(listId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
          ExpressionAttributeValues: { ":pk": listPk(listId), ":sub": "SUB#" },
          Select: "COUNT",
          ExclusiveStartKey: start,
        }),
      );
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /** A page of subscribers in address order, optionally only those with `status`. */
  async listSubscribers(
    listId: string,
    options: { status?: SubscriberStatus; limit: number; cursor?: string },
  ): Promise<Page<StoredSubscriber>> {
    const items: StoredSubscriber[] = [];
    let start: Record<string, unknown> | undefined = decodeCursor(options.cursor, listPk(listId), "SUB#");
    // A filter applies after the read limit, so keep reading until the page is full or the list ends.
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
          ...(options.status
            ? { FilterExpression: "#status = :status", ExpressionAttributeNames: { "#status": "status" } }
            : {}),
          ExpressionAttributeValues: {
            ":pk": listPk(listId),
            ":sub": "SUB#",
            ...(options.status ? { ":status": options.status } : {}),
          },
          ExclusiveStartKey: start,
          Limit: options.limit - items.length,
        }),
      );
      items.push(...(out.Items ?? []).map(toSubscriber));
      start = out.LastEvaluatedKey;
    } while (start && items.length < options.limit);
    const nextCursor = encodeCursor(start);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  async getSubscriber(listId: string, email: string): Promise<StoredSubscriber | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: listPk(listId), sk: `SUB#${email}` } }),
    );
    return out.Item ? toSubscriber(out.Item) : undefined;
  }

  /** Changes a subscriber's attributes and/or status; undefined when there is no such subscriber. */
  async updateSubscriber(
    listId: string,
    email: string,
    changes: { attributes?: Attributes; status?: SubscriberStatus },
    now: string,
  ): Promise<StoredSubscriber | undefined> {
    const sets = ["updatedAt = :now"];
    const values: Record<string, unknown> = { ":now": now };
    if (changes.attributes) {
      sets.push("attributes = :attributes");
      values[":attributes"] = changes.attributes;
    }
    if (changes.status) {
      sets.push("#status = :status");
      values[":status"] = changes.status;
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: listPk(listId), sk: `SUB#${email}` },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: "attribute_exists(pk)",
          ...(changes.status ? { ExpressionAttributeNames: { "#status": "status" } } : {}),
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return toSubscriber(out.Attributes ?? {});
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
  }

  /** Erases one subscriber (GDPR Art. 17). The suppression list is untouched. False if absent. */
  async deleteSubscriber(listId: string, email: string): Promise<boolean> {
    const out = await this.db.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: listPk(listId), sk: `SUB#${email}` },
        ReturnValues: "ALL_OLD",
      }),
    );
    return out.Attributes !== undefined;
  }

  async getList(id: string): Promise<MailingList | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: listPk(id), sk: META } }),
    );
    if (!out.Item) return undefined;
    return { id: out.Item.id, name: out.Item.name, createdAt: out.Item.createdAt };
  }

  /**
   * Inserts or updates subscribers. A new subscriber starts `subscribed`; an existing one keeps its
   * status, so re-importing a list never re-subscribes someone who left.
   */
  async upsertSubscribers(
    listId: string,
    subscribers: readonly Omit<Subscriber, "status">[],
    now: string,
  ): Promise<void> {
    await mapLimit(subscribers, 16, (s) =>
      this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: listPk(listId), sk: `SUB#${s.email}` },
          UpdateExpression:
            "SET email = :email, attributes = :attributes, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), #status = if_not_exists(#status, :subscribed), #type = :type",
          ExpressionAttributeNames: { "#status": "status", "#type": "type" },
          ExpressionAttributeValues: {
            ":email": s.email,
            ":attributes": s.attributes,
            ":now": now,
            ":subscribed": "subscribed",
            ":type": "subscriber",
          },
        }),
      ),
    );
  }

  /** One page of a list's subscribers in key order, resuming after `after` (a previous `next`). */
  async pageSubscribers(listId: string, after: string | undefined, limit: number): Promise<SubscriberPage> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :sub)",
        ExpressionAttributeValues: { ":pk": listPk(listId), ":sub": "SUB#" },
        ExclusiveStartKey: after ? (JSON.parse(after) as Record<string, string>) : undefined,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const subscribers = (out.Items ?? []).map((item) => ({
      email: item.email as string,
      attributes: (item.attributes ?? {}) as Attributes,
      status: item.status as SubscriberStatus,
    }));
    return { subscribers, ...(out.LastEvaluatedKey ? { next: JSON.stringify(out.LastEvaluatedKey) } : {}) };
  }

  async createCampaign(campaign: Campaign): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: { pk: campaignPk(campaign.id), sk: META, type: "campaign", ...campaign },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: this.table,
              Item: {
                pk: "CAMPAIGNS",
                sk: `${campaign.createdAt}#${campaign.id}`,
                type: "campaign-index",
                id: campaign.id,
              },
            },
          },
        ],
      }),
    );
  }

  /**
   * Campaigns, newest first. With `status`, a page may hold fewer than `limit` campaigns (the
   * filter applies to each page of the index); follow `nextCursor` to the end.
   */
  async pageCampaigns(limit: number, cursor?: string, status?: CampaignStatus): Promise<Page<Campaign>> {
    return this.pageIndex("CAMPAIGNS", campaignPk, limit, cursor, (item) => {
      if (status && item.status !== status) return [];
      const { pk: _pk, sk: _sk, type: _type, ...campaign } = item;
      return [campaign as unknown as Campaign];
    });
  }

  /** Applies `changes` to a draft campaign; false when it is not (or no longer) a draft. */
  async updateDraft(id: string, changes: CampaignChanges, now: string): Promise<boolean> {
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = { ":draft": "draft", ":now": now };
    const sets = ["updatedAt = :now"];
    for (const [key, value] of Object.entries(changes.set)) {
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    const removes = changes.remove.map((key) => {
      names[`#${key}`] = key;
      return `#${key}`;
    });
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ConditionExpression: "#status = :draft",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /**
   * Deletes a campaign that never started (draft or scheduled), with its index entries. False
   * when it is in any other state (its ledger and counts must stay) or does not exist.
   */
  async deleteUnstartedCampaign(campaign: Campaign): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: { pk: campaignPk(campaign.id), sk: META },
                ConditionExpression: "#status IN (:draft, :scheduled)",
                ExpressionAttributeNames: { "#status": "status" },
                ExpressionAttributeValues: { ":draft": "draft", ":scheduled": "scheduled" },
              },
            },
            {
              Delete: {
                TableName: this.table,
                Key: { pk: "CAMPAIGNS", sk: `${campaign.createdAt}#${campaign.id}` },
              },
            },
            ...(campaign.scheduledAt
              ? [
                  {
                    Delete: {
                      TableName: this.table,
                      Key: { pk: "SCHEDULED", sk: `${campaign.scheduledAt}#${campaign.id}` },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /** draft → scheduled, with the entry the scheduler looks for; false if it was not a draft. */
  async scheduleCampaign(id: string, scheduledAt: string, now: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: { pk: campaignPk(id), sk: META },
                UpdateExpression: "SET #status = :scheduled, updatedAt = :now, sendRequestedAt = :now",
                ConditionExpression: "#status = :draft",
                ExpressionAttributeNames: { "#status": "status" },
                ExpressionAttributeValues: { ":scheduled": "scheduled", ":draft": "draft", ":now": now },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { pk: "SCHEDULED", sk: `${scheduledAt}#${id}`, type: "scheduled", id },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /** Scheduled campaigns whose time is at or before `now` (ISO 8601, UTC). */
  async dueScheduled(now: string): Promise<{ id: string; entry: string }[]> {
    const due: { id: string; entry: string }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          // "#" sorts after every character of an ISO timestamp, so `now#` bounds every entry at `now`.
          KeyConditionExpression: "pk = :pk AND sk <= :until",
          ExpressionAttributeValues: { ":pk": "SCHEDULED", ":until": `${now}#~` },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      due.push(...(out.Items ?? []).map((item) => ({ id: item.id as string, entry: item.sk as string })));
      start = out.LastEvaluatedKey;
    } while (start);
    return due;
  }

  async clearScheduled(entry: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: "SCHEDULED", sk: entry } }));
  }

  async getCampaign(
    id: string,
    consistent = false,
  ): Promise<(Campaign & { fanoutCursor?: string }) | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        ConsistentRead: consistent,
      }),
    );
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, type: _type, ...campaign } = out.Item;
    return campaign as Campaign & { fanoutCursor?: string };
  }

  /** Moves a campaign from `from` to `to`; returns false when it was not in `from`. */
  async transitionCampaign(
    id: string,
    from: CampaignStatus,
    to: CampaignStatus,
    now: string,
    extra: Record<string, unknown> = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = { ":from": from, ":to": to, ":now": now };
    const sets = ["#status = :to", "updatedAt = :now"];
    for (const [key, value] of Object.entries(extra)) {
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: "#status = :from",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /**
   * Pauses a campaign that is queued or sending, recording why. Returns false if it was in neither
   * state (already paused, finished, cancelled, or a draft). Senders stop calling SES for a paused
   * campaign within seconds.
   */
  async pauseCampaign(id: string, reason: string, now: string): Promise<boolean> {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: "SET #status = :paused, pausedReason = :reason, pausedAt = :now, updatedAt = :now",
        ConditionExpression: "#status IN (:queued, :sending)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":paused": "paused",
          ":queued": "queued",
          ":sending": "sending",
          ":reason": reason.slice(0, 200),
          ":now": now,
        },
      }),
    );
  }

  async markFanoutEnqueued(id: string, now: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: "SET fanoutEnqueuedAt = if_not_exists(fanoutEnqueuedAt, :now)",
        ExpressionAttributeValues: { ":now": now },
      }),
    );
  }

  /**
   * Takes (or renews) the campaign's fan-out lease for `owner` and records which page it is about to
   * write. Only one fan-out worker writes a campaign at a time; returns false if another holds it.
   * Returns the page marker found before this call, so a worker can tell a page that was started
   * before (and may have ledger items already) from a fresh one.
   */
  async startFanoutPage(
    id: string,
    owner: string,
    page: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<{ acquired: boolean; previousPage?: string }> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: campaignPk(id), sk: META },
          UpdateExpression: "SET fanoutOwner = :owner, fanoutLeaseUntil = :until, fanoutPage = :page",
          ConditionExpression:
            "attribute_not_exists(fanoutOwner) OR fanoutOwner = :owner OR fanoutLeaseUntil < :now",
          ExpressionAttributeValues: {
            ":owner": owner,
            ":until": nowMs + leaseMs,
            ":page": page,
            ":now": nowMs,
          },
          ReturnValues: "UPDATED_OLD",
        }),
      );
      const previous = out.Attributes?.fanoutPage as string | undefined;
      return { acquired: true, ...(previous ? { previousPage: previous } : {}) };
    } catch (error) {
      if (isConditionalFailure(error)) return { acquired: false };
      throw error;
    }
  }

  /**
   * Advances the fan-out checkpoint from `expected` to `next`. The condition makes the checkpoint
   * move forward exactly once per page even when two fan-out workers race on one campaign.
   */
  async advanceFanout(
    id: string,
    expected: string | undefined,
    next: string | undefined,
    now: string,
  ): Promise<boolean> {
    const done = next === undefined;
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: done
          ? "SET fanoutDone = :true, updatedAt = :now REMOVE fanoutCursor"
          : "SET fanoutCursor = :next, updatedAt = :now",
        ConditionExpression:
          expected === undefined
            ? "attribute_not_exists(fanoutCursor) AND attribute_not_exists(fanoutDone)"
            : "fanoutCursor = :expected",
        ExpressionAttributeValues: {
          ":now": now,
          ...(done ? { ":true": true } : { ":next": next }),
          ...(expected === undefined ? {} : { ":expected": expected }),
        },
      }),
    );
  }

  async completeCampaign(id: string, counts: RecipientCounts, now: string): Promise<boolean> {
    return this.transitionCampaign(id, "sending", "sent", now, { completedAt: now, finalCounts: counts });
  }

  /** Registers a campaign as sending, so the scheduler can finish or resume it. */
  async markActive(id: string, now: string): Promise<void> {
    await this.db.send(
      new PutCommand({ TableName: this.table, Item: { pk: "ACTIVE", sk: id, type: "active", since: now } }),
    );
  }

  async listActive(): Promise<string[]> {
    const ids: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": "ACTIVE" },
          ExclusiveStartKey: start,
        }),
      );
      ids.push(...(out.Items ?? []).map((item) => item.sk as string));
      start = out.LastEvaluatedKey;
    } while (start);
    return ids;
  }

  async clearActive(id: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: "ACTIVE", sk: id } }));
  }

  /** Stores the final counts of a campaign that ended without being sent in full (cancelled). */
  async freezeCounts(id: string, counts: RecipientCounts, now: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: "SET finalCounts = :counts, completedAt = :now, updatedAt = :now",
        ExpressionAttributeValues: { ":counts": counts, ":now": now },
      }),
    );
  }

  /** Current attributes of some of a list's subscribers (missing ones are left out). */
  async subscribersOf(listId: string, emails: readonly string[]): Promise<Subscriber[]> {
    const found: Subscriber[] = [];
    for (let i = 0; i < emails.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = emails
        .slice(i, i + 100)
        .map((email) => ({ pk: listPk(listId), sk: `SUB#${email}` }));
      for (let attempt = 0; keys && keys.length > 0 && attempt < 5; attempt++) {
        const out: BatchGetCommandOutput = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          found.push({
            email: item.email as string,
            attributes: (item.attributes ?? {}) as Attributes,
            status: item.status as SubscriberStatus,
          });
        }
        keys = out.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  /** What the scheduler saw of a sending campaign last time: to tell a slow campaign from a stalled one. */
  async recordWatch(id: string, terminal: number, at: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: campaignPk(id), sk: META },
        UpdateExpression: "SET watchTerminal = :terminal, watchAt = :at",
        ExpressionAttributeValues: { ":terminal": terminal, ":at": at },
      }),
    );
  }

  async getApiKey(hash: string): Promise<ApiKeyRecord | undefined> {
    // Strongly consistent: a revoked key must stop working on the next request.
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `APIKEY#${hash}`, sk: META },
        ConsistentRead: true,
      }),
    );
    if (!out.Item || out.Item.revokedAt) return undefined;
    return { id: out.Item.id, name: out.Item.name, scopes: out.Item.scopes };
  }

  /** Stores a new key under its hash, with an index entry (by id) for listing and revoking. */
  async createApiKey(key: ApiKeyView, hash: string): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              Item: { pk: `APIKEY#${hash}`, sk: META, type: "api-key", ...key },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: this.table,
              Item: { pk: "APIKEYS", sk: key.id, type: "api-key-index", hash, ...key },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  }

  async pageApiKeys(limit: number, cursor?: string): Promise<Page<ApiKeyView>> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": "APIKEYS" },
        ExclusiveStartKey: decodeCursor(cursor, "APIKEYS"),
        Limit: limit,
      }),
    );
    const items = (out.Items ?? []).map((item) => ({
      id: item.id as string,
      name: item.name as string,
      scopes: item.scopes as string[],
      createdAt: item.createdAt as string,
    }));
    const nextCursor = encodeCursor(out.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Revokes a key at once by deleting it and its index entry. False when there is no such key. */
  async revokeApiKey(id: string): Promise<boolean> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: "APIKEYS", sk: id }, ConsistentRead: true }),
    );
    const hash = out.Item?.hash as string | undefined;
    if (!hash) return false;
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Delete: { TableName: this.table, Key: { pk: `APIKEY#${hash}`, sk: META } } },
          { Delete: { TableName: this.table, Key: { pk: "APIKEYS", sk: id } } },
        ],
      }),
    );
    return true;
  }

  /** Lightweight reachability check for the health route. */
  async ping(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: "HEALTH", sk: META } }));
  }

  private async batchGet(keys: { pk: string; sk: string }[]): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    for (const group of chunk(keys, 100)) {
      let pending: Record<string, unknown>[] | undefined = group;
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > 5)
          throw Object.assign(new Error("BatchGet left keys unprocessed"), { name: "ThrottlingException" });
        const out = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) found.set(item.pk as string, item);
        pending = out.UnprocessedKeys?.[this.table]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  }

  private async batchDelete(keys: { pk: string; sk: string }[]): Promise<void> {
    await mapLimit(chunk(keys, 25), 4, async (group) => {
      let pending: Record<string, unknown>[] | undefined = group.map((key) => ({
        DeleteRequest: { Key: key },
      }));
      for (let attempt = 0; pending && pending.length > 0; attempt++) {
        if (attempt > 5)
          throw Object.assign(new Error("BatchWrite left items unprocessed"), {
            name: "ThrottlingException",
          });
        const out = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }),
        );
        pending = out.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
      }
    });
  }

  private async conditional(command: UpdateCommand): Promise<boolean> {
    try {
      await this.db.send(command);
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }
}

function toSubscriber(item: Record<string, unknown>): StoredSubscriber {
  return {
    email: item.email as string,
    attributes: (item.attributes ?? {}) as Attributes,
    status: item.status as SubscriberStatus,
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}

/** A transaction refused because one of its conditions did not hold. */
function isCancelledByCondition(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== "TransactionCanceledException") return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === "ConditionalCheckFailed");
}
