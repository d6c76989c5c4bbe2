import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import type { FeedbackCounters } from "../domain/feedback-counters.ts";

/** The campaign item's shape as CampaignStore (its one writer) reads and writes it. */

/** A campaign as stored: its content and status, plus the fan-out's checkpoint. */
export type StoredCampaign = Campaign & {
  readonly fanoutCursor?: string;
  /** Until when (epoch ms) a fan-out worker holds the campaign; absent when nobody does. */
  readonly fanoutLeaseUntil?: number;
};

/** Fields of a draft campaign that PATCH may set; `remove` names optional fields to clear. */
export interface CampaignChanges {
  readonly set: Readonly<Record<string, unknown>>;
  readonly remove: readonly string[];
}

export interface CampaignFeedback {
  readonly status: string;
  readonly listId?: string;
  readonly counters: FeedbackCounters;
  readonly reputationGuard?: { reason: string; at: string };
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
