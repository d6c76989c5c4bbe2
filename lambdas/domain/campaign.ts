import type { RecipientCounts } from "./ledger.ts";
import { pendingCount } from "./ledger.ts";
import type { FollowUp } from "./follow-up.ts";
import type { CampaignAudience } from "./segment.ts";

/**
 * Campaign lifecycle:
 *   draft ──send (scheduledAt in the future)──► scheduled ──scheduler, at scheduledAt──► queued
 *   draft ──send──► queued ──fan-out starts──► sending ──every recipient terminal──► sent
 *   queued | sending ──pause──► paused ──resume──► sending
 *   queued | sending | paused ──cancel──► cancelled (every unsent recipient `cancelled`)
 */
export const CAMPAIGN_STATUSES = [
  "draft",
  "scheduled",
  "queued",
  "sending",
  "paused",
  "sent",
  "cancelled",
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export interface Campaign {
  readonly id: string;
  readonly listId: string;
  readonly from: string;
  readonly subject: string;
  readonly html: string;
  readonly text?: string;
  /** Reply-To address, if replies should go somewhere other than `from`. */
  readonly replyTo?: string;
  /** Only the list's subscribers in this saved segment. */
  readonly segmentId?: string;
  /** Nobody on these lists. */
  readonly excludeListIds?: readonly string[];
  /** Nobody in these saved segments. */
  readonly excludeSegmentIds?: readonly string[];
  /** The template version the content was copied from (absent once the content is changed by hand). */
  readonly templateId?: string;
  readonly templateVersion?: number;
  /** A follow-up of another campaign: only those of its recipients its ledger puts in `audience`. */
  readonly followUp?: FollowUp;
  /** The segments as they were when the campaign was sent (versions and rules): what the fan-out applies. */
  readonly audience?: CampaignAudience;
  /**
   * `purpose: "confirmation"`: a system campaign that mails double opt-in confirmation emails to `recipients`
   * (pending subscribers of `listId`) instead of the list; not listed with the others.
   */
  readonly purpose?: "confirmation";
  /** The addresses a confirmation campaign mails (at most CONFIRMATIONS_PER_SEND). */
  readonly recipients?: readonly string[];
  /** The confirmation email's version and how long its links work (confirmation campaigns). */
  readonly confirmation?: { readonly version: number; readonly expiresInHours: number };
  /** When to start sending (ISO 8601); `send` before then schedules the campaign. */
  readonly scheduledAt?: string;
  readonly status: CampaignStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sendRequestedAt?: string;
  readonly fanoutEnqueuedAt?: string;
  readonly fanoutDone?: boolean;
  readonly completedAt?: string;
  /** Terminal recipients the scheduler counted at `watchAt`: unchanged for long means stalled. */
  readonly watchTerminal?: number;
  readonly watchAt?: string;
  /** Why the campaign was paused (a person, or the reputation guard). */
  readonly pausedReason?: string;
  /** Final counts, frozen when the campaign completes. */
  readonly finalCounts?: RecipientCounts;
}

/** The status a campaign has given what the ledger says about its recipients. */
export function deriveStatus(campaign: Campaign, counts: RecipientCounts): CampaignStatus {
  // Only a campaign on its way can complete by itself; draft, scheduled, paused and cancelled are
  // decisions.
  if (campaign.status !== "queued" && campaign.status !== "sending") return campaign.status;
  return campaign.fanoutDone && pendingCount(counts) === 0 ? "sent" : campaign.status;
}

/**
 * The most content a campaign may carry: subject, html and text together, in UTF-8 bytes. The
 * content is stored as one DynamoDB item of its own (at most 400 KB, keys and names included), so
 * this keeps well inside it. The API answers 413 above it.
 */
export const MAX_CONTENT_BYTES = 300 * 1024;

export function contentBytes(content: Pick<Campaign, "subject" | "html" | "text">): number {
  const bytes = (value: string | undefined) => (value ? new TextEncoder().encode(value).length : 0);
  return bytes(content.subject) + bytes(content.html) + bytes(content.text);
}
