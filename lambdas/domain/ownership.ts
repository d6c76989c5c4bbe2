import type { CampaignStatus } from "./campaign.ts";
import { type CampaignAction, decide } from "./campaign-lifecycle.ts";

/**
 * One owner per campaign. A campaign that has been sent or scheduled belongs to one region: only
 * that region's scheduler, fan-out and senders act on it, and only it writes the campaign item
 * (SES failover stays per call: the owner's senders call the other regions' SES endpoints). The
 * owner holds a lease and renews it while it works; it stops acting `SAFETY_MARGIN_MS` before the
 * lease runs out, and another region may take the campaign over only once it has run out, so two
 * regions never act on one campaign at once, even with clocks a few seconds apart.
 *
 * With a coordination table (DynamoDB multi-Region strong consistency) the owner record is read and
 * written strongly consistently in every region: the first region to claim a campaign owns it, and
 * takeover is automatic. Without one, every campaign is owned by the home region and taken over by
 * hand (POST /v1/campaigns/{id}/takeover), and the record replicates like any other item.
 */
export interface OwnerRecord {
  readonly campaignId: string;
  readonly ownerRegion: string;
  /** Grows by one at each takeover: a region's view of the owner is stale if its epoch is lower. */
  readonly epoch: number;
  /** Until when (epoch ms) the owner may act without renewing. */
  readonly leaseUntil: number;
  /**
   * When the owner finished the campaign (sent, or cancelled and swept): from then on nobody takes
   * it over, whatever the lease says. Without it, a region whose replica still shows the campaign
   * on its way (replication down for longer than the lease) would take over a finished campaign
   * once the owner stopped renewing, and send its stale recipients again.
   */
  readonly finishedAt?: string;
}

/** The owner stops acting this long before its lease runs out (clock skew, calls in flight). */
export const SAFETY_MARGIN_MS = 10_000;

/** Whether `region` may act on the campaign now: it owns it and its lease has time left. */
export function mayAct(record: OwnerRecord, region: string, nowMs: number): boolean {
  return record.ownerRegion === region && record.leaseUntil - SAFETY_MARGIN_MS > nowMs;
}

/** Whether the owner should renew now: less than half of the lease is left. */
export function shouldRenew(record: OwnerRecord, nowMs: number, leaseMs: number): boolean {
  return record.leaseUntil - nowMs < leaseMs / 2;
}

/** Whether another region may take the campaign over: its owner never finished it, and the lease ran out. */
export function mayTakeOver(record: OwnerRecord, region: string, nowMs: number): boolean {
  return record.ownerRegion !== region && record.finishedAt === undefined && record.leaseUntil < nowMs;
}

/** Control calls a region's API (or its reputation guard) can ask of a campaign another region owns. */
export type IntentAction = "send" | "pause" | "resume" | "cancel";

/**
 * A control call that arrived at a region that does not own the campaign. Each region keeps only
 * its latest intent per campaign, in an item only it writes, so last-writer-wins cannot lose one;
 * the owner applies intents in the order they were made and records which it has applied.
 */
export interface ControlIntent {
  readonly region: string;
  readonly action: IntentAction;
  /** When it was asked (ISO time): orders intents, and tells applied ones from new ones. */
  readonly at: string;
  readonly reason?: string;
}

/** Intents not applied yet, oldest first. `applied` maps region → the `at` of its last applied intent. */
export function pendingIntents(
  intents: readonly ControlIntent[],
  applied: Readonly<Record<string, string>>,
): ControlIntent[] {
  return intents
    .filter((intent) => intent.at > (applied[intent.region] ?? ""))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.region.localeCompare(b.region)));
}

/**
 * The status a campaign has once its pending intents are applied: what the owner's senders obey
 * before the owner has written it (a pause asked of another region stops sending at once).
 */
export function effectiveStatus(status: CampaignStatus, pending: readonly ControlIntent[]): CampaignStatus {
  let current = status;
  for (const intent of pending) {
    if (intent.action === "send") continue;
    const decision = decide(current, intent.action satisfies CampaignAction);
    if (decision.kind === "apply") current = decision.to;
  }
  return current;
}
