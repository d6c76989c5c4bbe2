import { judgedEngagementOf } from "./engagement.ts";
import type { EngagementRecord } from "./segment.ts";

/**
 * Follow-ups: a campaign to part of another campaign's recipients, chosen from its delivery ledger.
 *
 *   failed         the send failed for good (SES refused it, or every attempt failed)
 *   not_delivered  no Delivery event: failed, bounced, cancelled before its turn, or never confirmed
 *   not_opened     delivered, and no open or click by a person
 *   not_clicked    delivered, and no click by a person (on `link`, when given)
 *   clicked        clicked by a person (on `link`, when given)
 *
 * Opens and clicks machines made (domain/engagement.ts) do not count. Recipients the ledger marked
 * `suppressed` are in no follow-up. Whether a recipient is still subscribed, and not suppressed, is
 * checked again when the follow-up is sent, as for every campaign.
 */
export const FOLLOW_UP_AUDIENCES = [
  "failed",
  "not_delivered",
  "not_opened",
  "not_clicked",
  "clicked",
] as const;
export type FollowUpAudience = (typeof FOLLOW_UP_AUDIENCES)[number];

/** The audiences that may narrow to one link. */
export const LINK_AUDIENCES: readonly FollowUpAudience[] = ["not_clicked", "clicked"];

export interface FollowUp {
  /** The campaign followed up: its ledger decides who. */
  readonly campaignId: string;
  readonly audience: FollowUpAudience;
  readonly link?: string;
}

/** Whether an address belongs to a follow-up, from its ledger record of the followed campaign. */
export function inFollowUp(followUp: FollowUp, records: readonly EngagementRecord[] | undefined): boolean {
  const record = records?.find((r) => r.campaignId === followUp.campaignId);
  if (!record || record.status === undefined || record.status === "suppressed") return false;
  const delivered = record.deliveredAt !== undefined;
  const human = judgedEngagementOf(record).filter((e) => e.human);
  const clicked = human.some(
    (e) => e.kind === "click" && (followUp.link === undefined || e.link === followUp.link),
  );
  switch (followUp.audience) {
    case "failed":
      return record.status === "failed";
    case "not_delivered":
      return !delivered && ["failed", "sent", "cancelled"].includes(record.status);
    case "not_opened":
      return delivered && human.length === 0;
    case "not_clicked":
      return delivered && !clicked;
    case "clicked":
      return clicked;
  }
}
