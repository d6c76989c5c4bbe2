import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { type StoredCampaign, withContent } from "../adapters/campaign-items.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import { RECIPIENTS_PER_MESSAGE } from "../contracts/messages.ts";
import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import { deriveStatus } from "../domain/campaign.ts";
import { type CampaignAction, decide } from "../domain/campaign-lifecycle.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import { chunk } from "../shared/concurrency.ts";
import {
  claimOwner,
  finishOwnership,
  type Ownership,
  type Requested,
  requestOfOwner,
} from "./campaign-ownership.ts";

/**
 * The campaign workflows more than one function runs: the API (send, pause, resume, cancel, a GET
 * that notices the end), the scheduler (scheduled starts, the watch) and the feedback function (the
 * reputation guard's pause). Each reads the campaign once, asks the lifecycle
 * (domain/campaign-lifecycle.ts) what the action does, and writes conditionally, so two callers
 * racing on one campaign cannot both apply a transition.
 */
export interface CampaignDeps {
  readonly campaigns: CampaignStore;
  readonly agenda: CampaignAgendaStore;
  readonly ledger: LedgerStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  readonly ownership: Ownership;
}

/** What pause and resume need: the campaign's status, read and changed, and who owns it. */
export interface CampaignControlDeps {
  readonly campaigns: Pick<CampaignStore, "get" | "transition">;
  readonly agenda: Pick<CampaignAgendaStore, "markActive">;
  readonly ownership: Ownership;
}

/**
 * What a control call did: `campaign` is the campaign afterwards (undefined when there is none);
 * `requested` when another region owns it and will apply the call (campaign as this region sees it).
 */
export type ControlOutcome =
  | { readonly kind: "applied" | "already"; readonly campaign: StoredCampaign }
  | { readonly kind: "refused"; readonly reason: string; readonly campaign: StoredCampaign }
  | (Requested & { readonly campaign: StoredCampaign })
  | { readonly kind: "missing" };

/**
 * `POST /send`: schedules the campaign when its `scheduledAt` is still ahead, else starts it.
 * Idempotent: later calls change nothing, except that they re-enqueue a fan-out that never made it
 * to the queue. Returns the campaign afterwards, or undefined when there is none.
 */
export async function requestSend(
  deps: CampaignDeps,
  id: string,
  now: Date,
  /** The campaign as the caller just read it (strongly consistent), to save reading it again. */
  read?: StoredCampaign,
): Promise<StoredCampaign | (Requested & { campaign: StoredCampaign }) | undefined> {
  const campaign = read ?? (await deps.campaigns.get(id, true));
  if (!campaign) return undefined;
  if (campaign.status === "draft") {
    // The owner first: of two regions sent the same campaign at once, one owns it and acts.
    const owner = await claimOwner(deps.ownership, id);
    if (owner.ownerRegion !== deps.ownership.region) {
      const requested =
        (await requestOfOwner(deps.ownership, id, "send", now.toISOString())) ??
        ({
          kind: "requested",
          ownerRegion: owner.ownerRegion,
          action: "send",
          at: now.toISOString(),
        } as const);
      // The owner's watch applies the intent: it must know the campaign.
      if (!deps.ownership.coordinated) await deps.agenda.markActive(id, campaign.listId, now.toISOString());
      return { ...requested, campaign: { ...campaign, ownerRegion: owner.ownerRegion } };
    }
  }
  if (
    campaign.status === "draft" &&
    campaign.scheduledAt &&
    Date.parse(campaign.scheduledAt) > now.getTime()
  ) {
    const scheduled = await deps.campaigns.schedule(
      id,
      now.toISOString(),
      deps.ownership.region,
      deps.agenda.scheduledEntry(id, campaign.scheduledAt),
    );
    return scheduled
      ? { ...campaign, status: "scheduled", ownerRegion: deps.ownership.region }
      : deps.campaigns.get(id, true);
  }
  // A scheduled campaign waits for its time: the scheduler starts it.
  if (campaign.status === "scheduled") return campaign;
  return startCampaign(deps, campaign, now.toISOString());
}

/**
 * Starts a draft (send now) or scheduled campaign (its time has come): registers it with the
 * scheduler's watch, moves it to `queued` and enqueues its fan-out. Safe to repeat: the transition
 * happens once, and the fan-out is enqueued again only if it never made it to the queue (the
 * process died between the two writes).
 */
export async function startCampaign(
  deps: CampaignDeps,
  campaign: StoredCampaign,
  now: string,
): Promise<StoredCampaign | undefined> {
  let current: StoredCampaign | undefined = campaign;
  if (decide(campaign.status, "start").kind === "apply") {
    await deps.agenda.markActive(campaign.id, campaign.listId, now);
    const started = await deps.campaigns.transition(campaign.id, "start", now, {
      sendRequestedAt: now,
      ownerRegion: deps.ownership.region,
    });
    current = started ? withContent(started, campaign) : await deps.campaigns.get(campaign.id, true);
    if (!current) return undefined;
  }
  // A campaign on its way whose fan-out never made it to the queue gets it now; one that was
  // cancelled (or never left draft) gets none.
  if (ON_ITS_WAY.has(current.status) && !current.fanoutEnqueuedAt) {
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId: campaign.id });
    await deps.campaigns.markFanoutEnqueued(campaign.id, now);
  }
  return current;
}

const ON_ITS_WAY: ReadonlySet<CampaignStatus> = new Set(["queued", "sending", "paused"]);

/** Applies a control action (pause, resume, cancel) that needs nothing but the status change. */
async function control(
  deps: CampaignControlDeps,
  id: string,
  action: CampaignAction,
  now: string,
  extra: Readonly<Record<string, unknown>> = {},
): Promise<ControlOutcome> {
  const campaign = await deps.campaigns.get(id, true);
  if (!campaign) return { kind: "missing" };
  if (action === "pause" || action === "resume" || action === "cancel") {
    const requested = await requestOfOwner(
      deps.ownership,
      id,
      action,
      now,
      typeof extra.pausedReason === "string" ? extra.pausedReason : undefined,
    );
    if (requested) {
      // The owner's watch applies the intent: it must know the campaign (a scheduled one is not
      // watched yet).
      await deps.agenda.markActive(id, campaign.listId, now);
      return { ...requested, campaign };
    }
  }
  const decision = decide(campaign.status, action);
  if (decision.kind === "already") return { kind: "already", campaign };
  if (decision.kind === "refused") return { kind: "refused", reason: decision.reason, campaign };
  const after = await deps.campaigns.transition(id, action, now, extra);
  if (after) return { kind: "applied", campaign: withContent(after, campaign) };
  // Someone else moved the campaign between the read and the write: judge again from where it is.
  const moved = await deps.campaigns.get(id, true);
  if (!moved) return { kind: "missing" };
  const again = decide(moved.status, action);
  return again.kind === "already"
    ? { kind: "already", campaign: moved }
    : {
        kind: "refused",
        reason: again.kind === "refused" ? again.reason : "the campaign changed state",
        campaign: moved,
      };
}

/** Pauses a queued or sending campaign (a person, or the reputation guard), recording why. */
export function pauseCampaign(deps: CampaignControlDeps, id: string, reason: string, now: string) {
  return control(deps, id, "pause", now, { pausedReason: reason.slice(0, 200), pausedAt: now });
}

/** What resume needs besides the status: the ledger's waiting recipients and the send queue. */
export interface ResumeDeps extends CampaignControlDeps, RequeueDeps {
  readonly ledger: Pick<LedgerStore, "list">;
}

/** Recipients read from the ledger and re-enqueued at once by resume. */
const RESUME_PAGE = 500;

/**
 * Resumes a paused campaign. Senders dropped its held recipients from the queue (they stay `queued`
 * in the ledger), so resume enqueues them again, a page at a time, for up to `requeueMs`; none is
 * sent twice (the ledger claim decides). Whatever resume could not enqueue (its time ran out, or it
 * was interrupted) is picked up by the scheduler's watch, which re-enqueues the waiting recipients
 * of a `sending` campaign that stops moving.
 */
export async function resumeCampaign(
  deps: ResumeDeps,
  id: string,
  now: Date,
  requeueMs: number,
): Promise<ControlOutcome & { readonly recipientsRequeued?: number }> {
  // The watch's stall clock starts again: recipients not moving while paused is no stall, and the
  // watch would otherwise re-enqueue at its first tick what resume is enqueueing now.
  const outcome = await control(deps, id, "resume", now.toISOString(), { pausedReason: null, watchAt: null });
  if (outcome.kind !== "applied") return outcome;
  const deadline = Date.now() + requeueMs;
  let requeued = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.ledger.list(id, "queued", RESUME_PAGE, cursor);
    const emails = page.items.map((item) => item.email);
    if (emails.length > 0) requeued += await requeueRecipients(deps, outcome.campaign, emails);
    cursor = page.nextCursor;
  } while (cursor && Date.now() < deadline);
  return { ...outcome, recipientsRequeued: requeued };
}

/**
 * Cancels a campaign: no new SES calls; then marks unsent recipients `cancelled` for up to
 * `sweepMs` (senders and the scheduler's watch mark the rest). Returns how many it marked.
 */
export async function cancelCampaign(
  deps: CampaignDeps,
  id: string,
  now: Date,
  sweepMs: number,
): Promise<ControlOutcome & { readonly recipientsCancelled?: number }> {
  const outcome = await control(deps, id, "cancel", now.toISOString(), { cancelledAt: now.toISOString() });
  if (outcome.kind !== "applied") return outcome;
  const deadline = Date.now() + sweepMs;
  let marked = 0;
  while (Date.now() < deadline) {
    const swept = await sweepCancelled(deps, id, 200);
    if (swept.pending === 0) break;
    marked += swept.marked;
  }
  return { ...outcome, recipientsCancelled: marked };
}

/** Marks up to `limit` waiting recipients of a cancelled campaign `cancelled`. */
export async function sweepCancelled(
  deps: Pick<CampaignDeps, "ledger">,
  id: string,
  limit: number,
): Promise<{ pending: number; marked: number }> {
  const pending = await deps.ledger.pending(id, Date.now(), limit);
  let marked = 0;
  for (const email of pending) if (await deps.ledger.cancel(id, email, Date.now())) marked++;
  return { pending: pending.length, marked };
}

/**
 * Completes a campaign whose recipients are all terminal (`sending → sent`, counts frozen) and
 * retires it. Returns the status the campaign has given `counts`.
 */
export async function completeIfDone(
  deps: Pick<CampaignDeps, "campaigns" | "agenda" | "ownership">,
  campaign: Campaign,
  counts: RecipientCounts,
  now: string,
): Promise<CampaignStatus> {
  const status = deriveStatus(campaign, counts);
  if (status === "sent" && campaign.status !== "sent") {
    await deps.campaigns.transition(campaign.id, "complete", now, { completedAt: now, finalCounts: counts });
    await retireCampaign(deps, campaign.id);
  }
  return status;
}

/**
 * Retires a finished campaign (sent, or cancelled and swept), after its item says so: its owner
 * record is marked finished, so that no region takes it over, and it leaves the scheduler's watch.
 * Safe to repeat: a retirement cut short is done again at the owner's next tick.
 */
export async function retireCampaign(
  deps: Pick<CampaignDeps, "agenda" | "ownership">,
  campaignId: string,
): Promise<void> {
  await finishOwnership(deps.ownership, campaignId);
  await deps.agenda.clearActive(campaignId);
}

/** Where re-enqueued recipients go, and where their merge fields come from. */
export interface RequeueDeps {
  readonly subscribers: Pick<SubscriberStore, "subscribersOf">;
  readonly queue: Pick<QueuePublisher, "sendAll">;
  readonly sendQueueUrl: string;
}

/**
 * Puts recipients back on the send queue with their current merge fields, 50 to a message. Sending
 * anyone twice is impossible: the ledger claim decides.
 */
export async function requeueRecipients(
  deps: RequeueDeps,
  campaign: Campaign,
  emails: readonly string[],
): Promise<number> {
  const attributes = new Map(
    (await deps.subscribers.subscribersOf(campaign.listId, emails)).map((s) => [s.email, s.attributes]),
  );
  const recipients = emails.map((email) => ({ email, attributes: attributes.get(email) ?? {} }));
  await deps.queue.sendAll(
    deps.sendQueueUrl,
    chunk(recipients, RECIPIENTS_PER_MESSAGE).map((group) => ({
      campaignId: campaign.id,
      recipients: group,
    })),
  );
  return recipients.length;
}
