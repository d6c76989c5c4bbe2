import type { CampaignStatus } from "./campaign.ts";

/**
 * The campaign lifecycle: every status change a campaign can make, and the only place that says
 * which are allowed. Stores derive their DynamoDB conditions from `sourcesOf`, use cases ask
 * `decide` before they write, so the rules cannot drift apart.
 *
 *   draft ──schedule (scheduledAt in the future)──► scheduled
 *   draft | scheduled ──start (send now, or the scheduler at scheduledAt)──► queued
 *   queued ──begin (the fan-out starts)──► sending
 *   sending ──complete (every recipient terminal)──► sent
 *   queued | sending ──pause──► paused ──resume──► sending
 *   scheduled | queued | sending | paused ──cancel──► cancelled (every unsent recipient `cancelled`)
 *
 * `sent` and `cancelled` are final.
 */
export type CampaignAction = "schedule" | "start" | "begin" | "complete" | "pause" | "resume" | "cancel";

interface Transition {
  readonly from: readonly CampaignStatus[];
  readonly to: CampaignStatus;
}

const TRANSITIONS: Readonly<Record<CampaignAction, Transition>> = {
  schedule: { from: ["draft"], to: "scheduled" },
  start: { from: ["draft", "scheduled"], to: "queued" },
  begin: { from: ["queued"], to: "sending" },
  complete: { from: ["sending"], to: "sent" },
  pause: { from: ["queued", "sending"], to: "paused" },
  resume: { from: ["paused"], to: "sending" },
  cancel: { from: ["scheduled", "queued", "sending", "paused"], to: "cancelled" },
};

/** Statuses in which a campaign's content may still change, or the campaign be deleted. */
export const UNSTARTED_STATUSES: readonly CampaignStatus[] = ["draft", "scheduled"];

/** The statuses `action` may start from. */
export function sourcesOf(action: CampaignAction): readonly CampaignStatus[] {
  return TRANSITIONS[action].from;
}

/** The status `action` leads to. */
export function targetOf(action: CampaignAction): CampaignStatus {
  return TRANSITIONS[action].to;
}

export type Decision =
  /** Write the change. */
  | { readonly kind: "apply"; readonly to: CampaignStatus }
  /** The campaign is already where the action leads: repeating the call is harmless. */
  | { readonly kind: "already"; readonly status: CampaignStatus }
  /** Not allowed from this status; `reason` is written for API clients. */
  | { readonly kind: "refused"; readonly reason: string };

/** What `action` does to a campaign that is `status` now. */
export function decide(status: CampaignStatus, action: CampaignAction): Decision {
  const { from, to } = TRANSITIONS[action];
  if (from.includes(status)) return { kind: "apply", to };
  if (status === to) return { kind: "already", status };
  return { kind: "refused", reason: `a ${status} campaign cannot be ${PAST[action]}` };
}

const PAST: Readonly<Record<CampaignAction, string>> = {
  schedule: "scheduled",
  start: "sent",
  begin: "started",
  complete: "completed",
  pause: "paused",
  resume: "resumed",
  cancel: "cancelled",
};
