import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import {
  type CampaignAction,
  sourcesOf,
  targetOf,
  UNSTARTED_STATUSES,
} from "../domain/campaign-lifecycle.ts";
import { type FeedbackCounter, type FeedbackCounters, zeroCounters } from "../domain/feedback-counters.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import { batchGetAll, type TransactItem, transactWrite } from "./dynamo/batch.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { updateIf } from "./dynamo/conditional.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import { campaignIndexKey, campaignKey, CAMPAIGNS_PK } from "./dynamo/keys.ts";
import type { Page } from "./list-store.ts";
import {
  type CampaignChanges,
  type CampaignFeedback,
  type StoredCampaign,
  statusIn,
  toCampaign,
} from "./campaign-items.ts";

/**
 * Campaigns in the audience table: the campaign item (`CAMPAIGN#<id>/#META`: content, status,
 * fan-out lease and checkpoint, watch marks, feedback counters) and its `CAMPAIGNS` index entry. The only writer of
 * both (the scheduler's entries are CampaignAgendaStore's). Status changes are conditional on the
 * statuses the lifecycle (domain/campaign-lifecycle.ts) allows them from.
 */
export class CampaignStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(campaign: Campaign): Promise<void> {
    await transactWrite(this.db, [
      {
        Put: {
          TableName: this.table,
          Item: { ...campaignKey(campaign.id), type: "campaign", ...campaign },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: {
            ...campaignIndexKey(campaign.createdAt, campaign.id),
            type: "campaign-index",
            id: campaign.id,
          },
        },
      },
    ]);
  }

  async get(id: string, consistent = false): Promise<StoredCampaign | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: campaignKey(id), ConsistentRead: consistent }),
    );
    return out.Item ? toCampaign(out.Item) : undefined;
  }

  /**
   * Campaigns, newest first. With `status`, a page may hold fewer than `limit` campaigns (the
   * filter applies to each page of the index); follow `nextCursor` to the end.
   */
  async page(limit: number, cursor?: string, status?: CampaignStatus): Promise<Page<Campaign>> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": CAMPAIGNS_PK },
        ExclusiveStartKey: decodeKeyCursor(cursor, CAMPAIGNS_PK),
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    const ids = (out.Items ?? []).map((item) => item.id as string);
    const found = new Map(
      (await batchGetAll(this.db, this.table, ids.map(campaignKey), { consistent: true })).map((item) => [
        item.id as string,
        toCampaign(item),
      ]),
    );
    const items = ids.flatMap((id) => {
      const campaign = found.get(id);
      return campaign && (!status || campaign.status === status) ? [campaign] : [];
    });
    const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
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
    return this.conditional(id, {
      UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
      ConditionExpression: "#status = :draft",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /**
   * Deletes a campaign that never started (draft or scheduled), with its index entry and
   * `alsoWrite` (its scheduler entry: CampaignAgendaStore.unscheduledEntry). False
   * when it is in any other state (its ledger and counts must stay) or does not exist.
   */
  async deleteUnstarted(campaign: Campaign, alsoWrite: readonly TransactItem[] = []): Promise<boolean> {
    const condition = statusIn(UNSTARTED_STATUSES);
    try {
      await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: campaignKey(campaign.id),
            ConditionExpression: condition.expression,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: condition.values,
          },
        },
        { Delete: { TableName: this.table, Key: campaignIndexKey(campaign.createdAt, campaign.id) } },
        ...alsoWrite,
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /**
   * Applies a lifecycle `action`, with `extra` attributes set (null removes one): conditional on the
   * statuses the lifecycle allows it from. Returns the campaign as it is afterwards, or undefined
   * when the campaign was in none of those statuses (or does not exist).
   */
  async transition(
    id: string,
    action: CampaignAction,
    now: string,
    extra: Readonly<Record<string, unknown>> = {},
  ): Promise<StoredCampaign | undefined> {
    const condition = statusIn(sourcesOf(action));
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = { ...condition.values, ":to": targetOf(action), ":now": now };
    const sets = ["#status = :to", "updatedAt = :now"];
    const removes: string[] = [];
    for (const [key, value] of Object.entries(extra)) {
      names[`#${key}`] = key;
      if (value === null) {
        removes.push(`#${key}`);
        continue;
      }
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignKey(id),
          UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return toCampaign(out.Attributes ?? {});
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * draft → scheduled, together with `alsoWrite` (the entry the scheduler looks for:
   * CampaignAgendaStore.scheduledEntry); false if it was not a draft.
   */
  async schedule(id: string, now: string, alsoWrite: TransactItem): Promise<boolean> {
    const condition = statusIn(sourcesOf("schedule"));
    try {
      await transactWrite(this.db, [
        {
          Update: {
            TableName: this.table,
            Key: campaignKey(id),
            UpdateExpression: "SET #status = :to, updatedAt = :now, sendRequestedAt = :now",
            ConditionExpression: condition.expression,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: { ...condition.values, ":to": targetOf("schedule"), ":now": now },
          },
        },
        alsoWrite,
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  async markFanoutEnqueued(id: string, now: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET fanoutEnqueuedAt = if_not_exists(fanoutEnqueuedAt, :now)",
      ExpressionAttributeValues: { ":now": now },
    });
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
      const out = await this.update(id, {
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
      });
      const previous = out.Attributes?.fanoutPage as string | undefined;
      return { acquired: true, ...(previous ? { previousPage: previous } : {}) };
    } catch (error) {
      if (isConditionalFailure(error)) return { acquired: false };
      throw error;
    }
  }

  /**
   * Lets go of the fan-out lease `owner` holds (it handed the campaign on to a new invocation), so
   * the next worker need not wait for it to run out. Nothing happens if another worker holds it.
   */
  async releaseFanout(id: string, owner: string): Promise<void> {
    await this.conditional(id, {
      UpdateExpression: "REMOVE fanoutOwner, fanoutLeaseUntil",
      ConditionExpression: "fanoutOwner = :owner",
      ExpressionAttributeValues: { ":owner": owner },
    });
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
    return this.conditional(id, {
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
    });
  }

  /** Stores the final counts of a campaign that ended without being sent in full (cancelled). */
  async freezeCounts(id: string, counts: RecipientCounts, now: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET finalCounts = :counts, completedAt = :now, updatedAt = :now",
      ExpressionAttributeValues: { ":counts": counts, ":now": now },
    });
  }

  /** What the scheduler saw of a sending campaign last time: to tell a slow campaign from a stalled one. */
  async recordWatch(id: string, terminal: number, at: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET watchTerminal = :terminal, watchAt = :at",
      ExpressionAttributeValues: { ":terminal": terminal, ":at": at },
    });
  }

  /** Makes sure the campaign has its `feedback` counter map; false when there is no such campaign. */
  async ensureCounters(id: string): Promise<boolean> {
    return this.conditional(id, {
      UpdateExpression: "SET #feedback = if_not_exists(#feedback, :zero)",
      ConditionExpression: "attribute_exists(pk)",
      ExpressionAttributeNames: { "#feedback": "feedback" },
      ExpressionAttributeValues: { ":zero": zeroCounters() },
    });
  }

  /**
   * The write that adds one to `feedback.<counter>`, for a transaction another store runs (the
   * counter moves together with the "first time" fact it counts). Fails its condition when the
   * campaign is gone. The counter map must exist (ensureCounters).
   */
  counterIncrement(id: string, counter: FeedbackCounter): TransactItem {
    return {
      Update: {
        TableName: this.table,
        Key: campaignKey(id),
        UpdateExpression: "ADD #feedback.#counter :one",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: { "#feedback": "feedback", "#counter": counter },
        ExpressionAttributeValues: { ":one": 1 },
      },
    };
  }

  /** What the feedback function needs of a campaign: status, list, counters and the guard's mark. */
  async feedback(id: string): Promise<CampaignFeedback | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: campaignKey(id),
        ConsistentRead: true,
        ProjectionExpression: "#status, listId, #feedback, reputationGuard",
        ExpressionAttributeNames: { "#status": "status", "#feedback": "feedback" },
      }),
    );
    const item = out.Item as
      | {
          status: string;
          listId?: string;
          feedback?: Partial<FeedbackCounters>;
          reputationGuard?: CampaignFeedback["reputationGuard"];
        }
      | undefined;
    if (!item) return undefined;
    return {
      status: item.status,
      ...(item.listId ? { listId: item.listId } : {}),
      counters: { ...zeroCounters(), ...item.feedback },
      ...(item.reputationGuard ? { reputationGuard: item.reputationGuard } : {}),
    };
  }

  /** Records that the reputation guard tripped; true only the first time for a campaign. */
  async markGuardTripped(id: string, reason: string, at: string): Promise<boolean> {
    return this.conditional(id, {
      UpdateExpression: "SET reputationGuard = :guard",
      ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(reputationGuard)",
      ExpressionAttributeValues: { ":guard": { reason: reason.slice(0, 200), at } },
    });
  }

  private update(id: string, input: Omit<UpdateCommandInput, "TableName" | "Key">) {
    return this.db.send(new UpdateCommand({ TableName: this.table, Key: campaignKey(id), ...input }));
  }

  /** An update that may not apply: false when its condition did not hold. */
  private conditional(id: string, input: Omit<UpdateCommandInput, "TableName" | "Key">): Promise<boolean> {
    return updateIf(this.db, { TableName: this.table, Key: campaignKey(id), ...input });
  }
}
