import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import type { FeedbackCounters } from "../domain/feedback-counters.ts";
import type { ControlIntent } from "../domain/ownership.ts";

/** The campaign item's shape as CampaignStore (its one writer) reads and writes it. */

/** A campaign as stored: its content and status, plus the fan-out's checkpoint. */
export type StoredCampaign = Campaign & {
  readonly fanoutCursor?: string;
  /** Until when (epoch ms) a fan-out worker holds the campaign; absent when nobody does. */
  readonly fanoutLeaseUntil?: number;
  /** The region that owns the campaign once it is sent or scheduled (domain/ownership.ts). */
  readonly ownerRegion?: string;
  /** Feedback counted in every region, summed (CampaignCounterStore). */
  readonly feedback?: FeedbackCounters;
  readonly reputationGuard?: { reason: string; at: string };
  /** Set by a takeover: the watch re-enqueues every recipient not yet terminal. */
  readonly requeueAll?: boolean;
  /** Every region's latest control intent, applied or not (CampaignIntentStore). */
  readonly intents?: readonly ControlIntent[];
};

/** The attribute recording the `at` of the last intent of `region` the owner has applied. */
export const intentAppliedAttribute = (region: string): string => `intentApplied:${region}`;

/** region → `at` of its last applied intent. */
export function appliedIntents(campaign: StoredCampaign): Record<string, string> {
  const applied: Record<string, string> = {};
  for (const [key, value] of Object.entries(campaign))
    if (key.startsWith("intentApplied:")) applied[key.slice("intentApplied:".length)] = String(value);
  return applied;
}

/** Fields of a draft campaign that PATCH may set; `remove` names optional fields to clear. */
export interface CampaignChanges {
  readonly set: Readonly<Record<string, unknown>>;
  readonly remove: readonly string[];
}

/** `#status IN (:s0, :s1, …)` over `statuses`. */
export function statusIn(statuses: readonly CampaignStatus[]): {
  expression: string;
  values: Record<string, string>;
} {
  const values = Object.fromEntries(statuses.map((status, i) => [`:s${i}`, status]));
  return { expression: `#status IN (${Object.keys(values).join(", ")})`, values };
}

export function toCampaign(item: Record<string, unknown>): StoredCampaign {
  const { pk: _pk, sk: _sk, type: _type, ...campaign } = item;
  return campaign as unknown as StoredCampaign;
}
