import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type FeedbackCounter, type FeedbackCounters, zeroCounters } from "../domain/feedback-counters.ts";
import type { TransactItem } from "./dynamo/batch.ts";
import { updateIf } from "./dynamo/conditional.ts";
import { queryPrefix } from "./dynamo/query.ts";
import { CAMPAIGN_COUNTERS_PREFIX, campaignCountersKey, campaignPk } from "./dynamo/keys.ts";

/**
 * A campaign's SES feedback counters (`CAMPAIGN#<id>` / `COUNTERS#<region>`): one item per region,
 * written only in that region (by its feedback function, and by its senders for `accepted`), summed
 * on read. SES reports a message in the region whose SES sent it, so sends that failed over are
 * counted where their events arrive, in that region's own item: no two regions ever write one
 * counter item, and last-writer-wins between replicas cannot lose an increment (within a region,
 * every write is an atomic ADD or SET). The reputation guard's mark lives in the same item.
 */
export class CampaignCounterStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    /** The region this function runs in: the only item it writes. */
    private readonly region: string,
  ) {}

  /**
   * The write that adds `counts` to this region's item, for a transaction another store runs (the
   * counters move together with the "first time" facts they count).
   */
  increment(campaignId: string, counts: Partial<Record<FeedbackCounter, number>>): TransactItem {
    const names: Record<string, string> = { "#region": "region" };
    const values: Record<string, unknown> = { ":id": campaignId, ":region": this.region };
    const adds = Object.entries(counts).map(([counter, n], i) => {
      names[`#c${i}`] = counter;
      values[`:n${i}`] = n;
      return `#c${i} :n${i}`;
    });
    return {
      Update: {
        TableName: this.table,
        Key: campaignCountersKey(campaignId, this.region),
        UpdateExpression: `SET campaignId = :id, #region = :region ADD ${adds.join(", ")}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  /**
   * Adds `count` emails SES accepted to this region's item: the senders' own count, which the
   * reputation guard divides by when SES's Send events (delivered at best effort) fall short.
   */
  async addAccepted(campaignId: string, count: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: campaignCountersKey(campaignId, this.region),
        UpdateExpression: "SET campaignId = :id, #region = :region ADD accepted :count",
        ExpressionAttributeNames: { "#region": "region" },
        ExpressionAttributeValues: { ":count": count, ":id": campaignId, ":region": this.region },
      }),
    );
  }

  /** Every region's counters summed, and whether any region's reputation guard has tripped. */
  async totals(campaignId: string, consistent = true): Promise<CampaignTotals> {
    return sumCounters(
      await queryPrefix(this.db, this.table, campaignPk(campaignId), CAMPAIGN_COUNTERS_PREFIX, consistent),
    );
  }

  /** Records that this region's reputation guard tripped; true only the first time here. */
  async markGuardTripped(campaignId: string, reason: string, at: string): Promise<boolean> {
    return updateIf(this.db, {
      TableName: this.table,
      Key: campaignCountersKey(campaignId, this.region),
      UpdateExpression: "SET reputationGuard = :guard, campaignId = :id, #region = :region",
      ConditionExpression: "attribute_not_exists(reputationGuard)",
      ExpressionAttributeNames: { "#region": "region" },
      ExpressionAttributeValues: {
        ":guard": { reason: reason.slice(0, 200), at },
        ":id": campaignId,
        ":region": this.region,
      },
    });
  }
}

export interface CampaignTotals {
  readonly counters: FeedbackCounters;
  /** Emails SES accepted, as the senders counted them (`addAccepted`). */
  readonly accepted: number;
  readonly reputationGuard?: { reason: string; at: string };
}

/** Sums counter items (any items of the campaign partition: only `COUNTERS#` ones count). */
export function sumCounters(items: readonly Record<string, unknown>[]): CampaignTotals {
  const counters = zeroCounters();
  let accepted = 0;
  let guard: CampaignTotals["reputationGuard"];
  for (const item of items) {
    if (!String(item.sk).startsWith(CAMPAIGN_COUNTERS_PREFIX)) continue;
    for (const name of Object.keys(counters) as FeedbackCounter[]) counters[name] += Number(item[name] ?? 0);
    accepted += Number(item.accepted ?? 0);
    guard ??= item.reputationGuard as CampaignTotals["reputationGuard"];
  }
  return { counters, accepted, ...(guard ? { reputationGuard: guard } : {}) };
}
