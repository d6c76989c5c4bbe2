import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import {
  type CampaignAction,
  sourcesOf,
  targetOf,
  UNSTARTED_STATUSES,
} from "../domain/campaign-lifecycle.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import { type TransactItem, transactWrite } from "./dynamo/batch.ts";
import { pageIndexed } from "./dynamo/indexed.ts";
import { updateIf } from "./dynamo/conditional.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import {
  CAMPAIGN_CONTENT_SK,
  CAMPAIGN_INTENT_PREFIX,
  campaignContentKey,
  campaignIndexKey,
  campaignKey,
  campaignPk,
  CAMPAIGNS_PK,
} from "./dynamo/keys.ts";
import { queryAll } from "./dynamo/query.ts";
import { FanoutCheckpoint } from "./fanout-checkpoint.ts";
import { sumCounters } from "./campaign-counter-store.ts";
import { toIntent } from "./campaign-intent-store.ts";
import type { Page } from "./dynamo/cursor.ts";
import {
  assignments,
  type CampaignChanges,
  type CampaignControl,
  contentFieldsOf,
  intentAppliedAttribute,
  splitContent,
  type StoredCampaign,
  statusIn,
  toContent,
  toControl,
  withContent,
} from "./campaign-items.ts";

/** A campaign's content: its content item, or its control item if it was written before the split. */
const contentOf = (content: Item | undefined, meta: Item | undefined) => toContent(content ?? meta ?? {});

type Item = Record<string, unknown>;

/**
 * Campaigns in the audience table: the control item (`CAMPAIGN#<id>/#META`: status, owner, fan-out
 * lease and checkpoint, watch marks, intents applied), the content item (`#CONTENT`: subject, html,
 * text) and the `CAMPAIGNS` index entry. The only writer of all three (the scheduler's entries are
 * CampaignAgendaStore's). Status changes are conditional on the statuses the lifecycle
 * (domain/campaign-lifecycle.ts) allows them from.
 *
 * One writer region: the API of any region writes a draft (a person editing it); once the campaign
 * is sent or scheduled, the content is never written again and only its owner region
 * (domain/ownership.ts) writes the control item, which stays small (a few hundred bytes) however
 * large the content: each status change, lease and checkpoint costs one write unit. Feedback
 * counters and control calls from other regions live in their own per-region items beside it.
 */
export class CampaignStore {
  /** The fan-out's checkpoint and lease on the control item. */
  readonly fanout: FanoutCheckpoint;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    /** Told of every status change this store makes, after it is written (webhook events). */
    private readonly onTransition?: (campaign: CampaignControl) => Promise<void>,
  ) {
    this.fanout = new FanoutCheckpoint(db, table);
  }

  /**
   * Creates a campaign; a system campaign (`purpose`) is left out of the index GET /v1/campaigns
   * pages. False when a campaign with its id exists already (a system campaign created again).
   */
  async create(campaign: Campaign): Promise<boolean> {
    const { control, content } = splitContent(campaign);
    const index = {
      Put: {
        TableName: this.table,
        Item: {
          ...campaignIndexKey(campaign.createdAt, campaign.id),
          type: "campaign-index",
          id: campaign.id,
        },
      },
    };
    try {
      await transactWrite(this.db, [
        {
          Put: {
            TableName: this.table,
            Item: { ...campaignKey(campaign.id), type: "campaign", ...control },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        { Put: { TableName: this.table, Item: { ...campaignContentKey(campaign.id), ...content } } },
        ...(campaign.purpose ? [] : [index]),
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /**
   * The campaign with what other regions wrote beside it, in one query of its partition: its
   * content, the feedback counters of every region summed (CampaignCounterStore) and every region's
   * latest control intent (CampaignIntentStore).
   */
  async get(id: string, consistent = false): Promise<StoredCampaign | undefined> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": campaignPk(id) },
      ConsistentRead: consistent,
    });
    const control = this.controlOf(id, items);
    if (!control) return undefined;
    const content = items.find((item) => item.sk === CAMPAIGN_CONTENT_SK);
    const meta = items.find((item) => item.sk === campaignKey(id).sk);
    return withContent(control, contentOf(content, meta));
  }

  /**
   * As `get`, without the content: for those that read a campaign's status often and its content
   * once (the senders). The content item sorts first in the partition; the query starts after it.
   */
  async getControl(id: string, consistent = false): Promise<CampaignControl | undefined> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND sk > :content",
      ExpressionAttributeValues: { ":pk": campaignPk(id), ":content": CAMPAIGN_CONTENT_SK },
      ConsistentRead: consistent,
    });
    return this.controlOf(id, items);
  }

  private controlOf(id: string, items: readonly Record<string, unknown>[]): CampaignControl | undefined {
    const meta = items.find((item) => item.sk === campaignKey(id).sk);
    if (!meta) return undefined;
    const totals = sumCounters(items);
    return {
      ...toControl(meta),
      feedback: totals.counters,
      accepted: totals.accepted,
      ...(totals.reputationGuard ? { reputationGuard: totals.reputationGuard } : {}),
      intents: items.filter((item) => String(item.sk).startsWith(CAMPAIGN_INTENT_PREFIX)).map(toIntent),
    };
  }

  /** The ids of the campaigns created at or after `since` (ISO 8601), from the index. */
  async idsCreatedSince(since: string): Promise<string[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND sk >= :since",
      ExpressionAttributeValues: { ":pk": CAMPAIGNS_PK, ":since": since },
      ProjectionExpression: "id",
    });
    return items.map((item) => item.id as string);
  }

  /**
   * Campaigns, newest first. With `status`, a page may hold fewer than `limit` campaigns (the
   * filter applies to each page of the index); follow `nextCursor` to the end.
   */
  async page(limit: number, cursor?: string, status?: CampaignStatus): Promise<Page<Campaign>> {
    return pageIndexed(
      this.db,
      this.table,
      CAMPAIGNS_PK,
      {
        keysOf: (id) => [campaignKey(id), campaignContentKey(id)],
        build: ([meta, content]) =>
          !meta || (status && meta.status !== status)
            ? undefined
            : withContent(toControl(meta), contentOf(content, meta)),
      },
      limit,
      cursor,
    );
  }

  /**
   * Applies `changes` to a draft campaign, its control and content items in one transaction; false
   * when it is not (or no longer) a draft.
   */
  async updateDraft(id: string, changes: CampaignChanges, now: string): Promise<boolean> {
    const set = splitContent(changes.set);
    const removeContent = contentFieldsOf(changes.remove);
    const removeControl = changes.remove.filter((field) => !removeContent.includes(field));
    const isDraft = {
      ConditionExpression: "#status = :draft",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: { ":draft": "draft" },
    };
    const control = assignments({ ...set.control, updatedAt: now }, removeControl);
    const content = assignments(set.content, removeContent);
    try {
      await transactWrite(this.db, [
        {
          Update: {
            TableName: this.table,
            Key: campaignKey(id),
            UpdateExpression: control.expression,
            ConditionExpression: isDraft.ConditionExpression,
            ExpressionAttributeNames: { ...isDraft.ExpressionAttributeNames, ...control.names },
            ExpressionAttributeValues: { ...isDraft.ExpressionAttributeValues, ...control.values },
          },
        },
        ...(content.expression
          ? [
              {
                Update: {
                  TableName: this.table,
                  Key: campaignContentKey(id),
                  UpdateExpression: content.expression,
                  ExpressionAttributeNames: content.names,
                  ...(Object.keys(content.values).length
                    ? { ExpressionAttributeValues: content.values }
                    : {}),
                },
              },
            ]
          : []),
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
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
        { Delete: { TableName: this.table, Key: campaignContentKey(campaign.id) } },
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
   * Applies a lifecycle `action` to the control item, with `extra` attributes set (null removes
   * one): conditional on the statuses the lifecycle allows it from. Returns the control item as it
   * is afterwards (no content: callers that show the campaign add the content they read), or
   * undefined when the campaign was in none of those statuses (or does not exist).
   */
  async transition(
    id: string,
    action: CampaignAction,
    now: string,
    extra: Readonly<Record<string, unknown>> = {},
  ): Promise<CampaignControl | undefined> {
    const condition = statusIn(sourcesOf(action));
    const sets = Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== null));
    const removes = Object.keys(extra).filter((key) => extra[key] === null);
    const update = assignments({ ...sets, status: targetOf(action), updatedAt: now }, removes);
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignKey(id),
          UpdateExpression: update.expression,
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: { "#status": "status", ...update.names },
          ExpressionAttributeValues: { ...condition.values, ...update.values },
          ReturnValues: "ALL_NEW",
        }),
      );
      const changed = toControl(out.Attributes ?? {});
      await this.onTransition?.(changed);
      return changed;
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * draft → scheduled, together with `alsoWrite` (the entry the scheduler looks for:
   * CampaignAgendaStore.scheduledEntry); false if it was not a draft.
   */
  async schedule(id: string, now: string, ownerRegion: string, alsoWrite: TransactItem): Promise<boolean> {
    const condition = statusIn(sourcesOf("schedule"));
    try {
      await transactWrite(this.db, [
        {
          Update: {
            TableName: this.table,
            Key: campaignKey(id),
            UpdateExpression:
              "SET #status = :to, updatedAt = :now, sendRequestedAt = :now, ownerRegion = :owner",
            ConditionExpression: condition.expression,
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ...condition.values,
              ":to": targetOf("schedule"),
              ":now": now,
              ":owner": ownerRegion,
            },
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

  /** Stores the final counts of a campaign that ended without being sent in full (cancelled). */
  async freezeCounts(id: string, counts: RecipientCounts, now: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET finalCounts = :counts, completedAt = :now, updatedAt = :now",
      ExpressionAttributeValues: { ":counts": counts, ":now": now },
    });
  }

  /** Records that the owner has applied `region`'s intent made at `at` (whatever it decided). */
  async markIntentApplied(id: string, region: string, at: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET #applied = :at",
      ExpressionAttributeNames: { "#applied": intentAppliedAttribute(region) },
      ExpressionAttributeValues: { ":at": at },
    });
  }

  /**
   * A region that took the campaign over records itself as the owner and asks its watch to
   * re-enqueue every recipient not yet terminal at its next tick (`requeueAll`). With
   * `restartFanout` (a campaign on its way) the fan-out checkpoint and lease are cleared, so the
   * list is fanned out again here: the ledger items the gone region wrote last may never have
   * reached this replica, and the fan-out re-creates them (conditionally: existing items are left).
   */
  async adopt(id: string, ownerRegion: string, now: string, restartFanout: boolean): Promise<void> {
    const restart = restartFanout
      ? " REMOVE fanoutDone, fanoutCursor, fanoutOwner, fanoutLeaseUntil, fanoutPage, fanoutRun, fanoutSlices, fanoutRead"
      : "";
    await this.update(id, {
      UpdateExpression: `SET ownerRegion = :owner, takenOverAt = :now, requeueAll = :true, updatedAt = :now${restart}`,
      ExpressionAttributeValues: { ":owner": ownerRegion, ":now": now, ":true": true },
    });
  }

  /** The watch re-enqueued every waiting recipient after a takeover. */
  async clearRequeueAll(id: string): Promise<void> {
    await this.update(id, { UpdateExpression: "REMOVE requeueAll" });
  }

  /** What the scheduler saw of a sending campaign last time: to tell a slow campaign from a stalled one. */
  async recordWatch(id: string, terminal: number, at: string): Promise<void> {
    await this.update(id, {
      UpdateExpression: "SET watchTerminal = :terminal, watchAt = :at",
      ExpressionAttributeValues: { ":terminal": terminal, ":at": at },
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
