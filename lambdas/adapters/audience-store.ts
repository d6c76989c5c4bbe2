import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import type { Attributes } from "../domain/render.ts";
import { mapLimit } from "../shared/concurrency.ts";
import { isConditionalFailure } from "./dynamo-errors.ts";

/**
 * The audience table: lists, subscribers, campaigns and API keys, one partition per list or
 * campaign.
 *
 *   LIST#<id>      #META          the list
 *   LIST#<id>      SUB#<email>    a subscriber
 *   CAMPAIGN#<id>  #META          a campaign, its fan-out checkpoint and final counts
 *   APIKEY#<hash>  #META          an API key (SHA-256 of the secret; never the secret)
 *   ACTIVE         <campaignId>   a campaign that is sending: the scheduler watches these
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
      new PutCommand({
        TableName: this.table,
        Item: { pk: listPk(list.id), sk: META, type: "list", ...list },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
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
      new PutCommand({
        TableName: this.table,
        Item: { pk: campaignPk(campaign.id), sk: META, type: "campaign", ...campaign },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
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
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: `APIKEY#${hash}`, sk: META } }),
    );
    if (!out.Item || out.Item.revokedAt) return undefined;
    return { id: out.Item.id, name: out.Item.name, scopes: out.Item.scopes };
  }

  /** Lightweight reachability check for the health route. */
  async ping(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.table, Key: { pk: "HEALTH", sk: META } }));
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
