import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import type { StoredCampaign } from "../adapters/campaign-items.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import { pendingCount, type RecipientCounts } from "../domain/ledger.ts";
import { mapLimit } from "../shared/concurrency.ts";
import { acts, standing } from "../usecases/campaign-ownership.ts";
import {
  type CampaignDeps,
  completeIfDone,
  requeueRecipients,
  retireCampaign,
  sweepCancelled,
} from "../usecases/campaign-workflows.ts";
import { applyIntents, takeOver } from "../usecases/owner-duties.ts";
import { mayTakeOver } from "../domain/ownership.ts";

export interface WatchDeps extends CampaignDeps {
  readonly campaigns: CampaignStore;
  readonly agenda: CampaignAgendaStore;
  readonly ledger: LedgerStore;
  readonly subscribers: SubscriberStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  readonly sendQueueUrl: string;
  readonly now: () => Date;
  /** A campaign whose recipients (or a fan-out nobody took up) have not moved for this long is re-enqueued. */
  readonly stalledAfterMs: number;
  /** The fan-out lease: a fan-out whose lease ran out and that has not moved for this long is re-enqueued. */
  readonly fanoutLeaseMs: number;
}

export interface WatchReport {
  readonly watched: number;
  readonly completed: number;
  readonly fanoutsResumed: number;
  readonly recipientsRequeued: number;
  /** Campaigns this region took over from an owner whose lease ran out. */
  readonly takenOver: number;
  /** Campaigns another region owns: left to it. */
  readonly elsewhere: number;
  /** Campaigns whose turn threw (logged); the others had theirs. */
  readonly failed: number;
}

/** Campaigns watched at once: one slow (huge) campaign holds one slot, not the whole tick. */
const WATCH_PARALLELISM = 4;
/** Per campaign per tick: a huge campaign's sweep or re-enqueue goes on at the next tick. */
const SWEEP_PER_TICK = 500;
const REQUEUE_PER_TICK = 5_000;

type Outcome = "completed" | "fanout-resumed" | "taken-over" | "elsewhere" | { requeued: number } | undefined;

/**
 * Watches every campaign on its way: completes those whose recipients are all terminal (so a
 * campaign ends `sent` even if nobody asks), finishes the sweep of cancelled ones, and re-enqueues a
 * fan-out that stopped moving (its message went to the DLQ, or the enqueue after `send` never
 * happened). Each campaign is on its own: one that throws is reported to `onError` and counted,
 * and the others still get their turn; the work per campaign per tick is bounded.
 */
export async function watchCampaigns(
  deps: WatchDeps,
  onError: (campaignId: string, error: unknown) => void = () => {},
): Promise<WatchReport> {
  const ids = await deps.agenda.listActive();
  const outcomes = await mapLimit(ids, WATCH_PARALLELISM, async (id) => {
    try {
      return await watchOne(deps, id);
    } catch (error) {
      onError(id, error);
      return "failed" as const;
    }
  });
  return {
    watched: ids.length,
    completed: outcomes.filter((o) => o === "completed").length,
    fanoutsResumed: outcomes.filter((o) => o === "fanout-resumed").length,
    recipientsRequeued: outcomes.reduce((n, o) => n + (typeof o === "object" ? o.requeued : 0), 0),
    takenOver: outcomes.filter((o) => o === "taken-over").length,
    elsewhere: outcomes.filter((o) => o === "elsewhere").length,
    failed: outcomes.filter((o) => o === "failed").length,
  };
}

/**
 * Whether this region watches the campaign: only its owner does (renewing its lease as it goes).
 * With a coordination table, a region that finds the owner's lease run out takes the campaign
 * over first; without one, only a person does (POST /v1/campaigns/{id}/takeover).
 */
async function ownerTurn(deps: WatchDeps, id: string): Promise<"act" | "taken-over" | "elsewhere"> {
  const s = await standing(deps.ownership, id);
  if (acts(deps.ownership, s)) return "act";
  if (
    s.kind === "other" &&
    deps.ownership.coordinated &&
    mayTakeOver(s.record, deps.ownership.region, deps.ownership.now()) &&
    (await takeOver(deps, id)).kind === "taken"
  )
    return "taken-over";
  return "elsewhere";
}

async function watchOne(deps: WatchDeps, id: string): Promise<Outcome> {
  const turn = await ownerTurn(deps, id);
  if (turn === "elsewhere") return "elsewhere";
  let campaign = await deps.campaigns.get(id, true);
  if (campaign && (await applyIntents(deps, campaign)) > 0) campaign = await deps.campaigns.get(id, true);
  if (!campaign || campaign.status === "sent") {
    await retireCampaign(deps, id);
    return undefined;
  }
  if (turn === "taken-over") return "taken-over";
  if (campaign.status === "cancelled") {
    // Finish what the cancel request could not: every recipient still waiting becomes cancelled.
    const swept = await sweepCancelled(deps, id, SWEEP_PER_TICK);
    if (swept.pending > 0) return undefined;
    const counts = await deps.ledger.count(id);
    if (counts.sending > 0) return undefined;
    await deps.campaigns.freezeCounts(id, counts, deps.now().toISOString());
    await retireCampaign(deps, id);
    return "completed";
  }
  // Not started yet: an intent for it was applied above; the scheduler starts a scheduled one.
  if (campaign.status === "draft" || campaign.status === "scheduled") return undefined;
  if (!campaign.fanoutDone) return (await resumeFanout(deps, campaign)) ? "fanout-resumed" : undefined;
  const counts = await deps.ledger.count(id);
  if ((await completeIfDone(deps, campaign, counts, deps.now().toISOString())) === "sent") return "completed";
  // A paused campaign's recipients wait in the ledger on purpose: resume enqueues them.
  if (campaign.status !== "sending") return undefined;
  if (campaign.requeueAll) return { requeued: await requeueAfterTakeover(deps, campaign) };
  return { requeued: await requeueIfStalled(deps, campaign, counts) };
}

/**
 * After a takeover, every recipient not yet terminal goes back on this region's send queue,
 * including those the gone region had claimed: their claims are treated as run out here, and the
 * ledger claim refuses any still leased until its lease ends (the sender retries them), so each is
 * sent once by this region unless the gone region sent it in its last moments (the duplicate
 * window).
 */
async function requeueAfterTakeover(deps: WatchDeps, campaign: StoredCampaign): Promise<number> {
  const asIfLater = deps.now().getTime() + TAKEOVER_CLAIM_HORIZON_MS;
  const emails = await deps.ledger.pending(campaign.id, asIfLater, REQUEUE_PER_TICK);
  const requeued = await requeueRecipients(deps, campaign, emails);
  if (emails.length < REQUEUE_PER_TICK) await deps.campaigns.clearRequeueAll(campaign.id);
  return requeued;
}

/** Longer than any send claim lasts: every claim of the gone region counts as run out. */
const TAKEOVER_CLAIM_HORIZON_MS = 60 * 60_000;

/**
 * Puts a fan-out that stopped moving back on its queue: the reader while it is cutting the list;
 * then each slice that stopped (and the reader once every slice is done, should the fan-out's last
 * step have been lost). Whether anything was enqueued.
 */
async function resumeFanout(deps: WatchDeps, campaign: StoredCampaign): Promise<boolean> {
  const reader = async () => {
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId: campaign.id });
    await deps.campaigns.markFanoutEnqueued(campaign.id, deps.now().toISOString());
  };
  if (!campaign.fanoutRead || !campaign.fanoutRun) {
    if (!fanoutStalled(deps, campaign.updatedAt, campaign.fanoutLeaseUntil)) return false;
    await reader();
    return true;
  }
  const run = campaign.fanoutRun;
  const slices = await deps.campaigns.fanout.slices.list(campaign.id, run);
  if (slices.every((slice) => slice.done)) {
    if (!fanoutStalled(deps, campaign.updatedAt, undefined)) return false;
    await reader();
    return true;
  }
  // A slice nobody holds is waiting in the queue, or its worker died before it took the lease (its
  // message then returns only after the queue's visibility timeout): either way, after a lease's
  // length it is put back, and marked so, so that it is put back at most once a lease.
  const now = deps.now();
  const stalled = slices.filter(
    (slice) =>
      !slice.done &&
      (slice.leaseUntil === undefined
        ? now.getTime() - Date.parse(slice.updatedAt) > deps.fanoutLeaseMs
        : fanoutStalled(deps, slice.updatedAt, slice.leaseUntil)),
  );
  for (const slice of stalled) {
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId: campaign.id, slice: { run, n: slice.n } });
    await deps.campaigns.fanout.slices.markEnqueued(campaign.id, run, slice.n, now.toISOString());
  }
  return stalled.length > 0;
}

/**
 * Whether a fan-out's reader or one of its slices stopped moving. Held by a worker: only once the lease ran out (a
 * live worker renews it at every page) and the checkpoint has not moved for a lease's length: the
 * worker crashed or timed out, and its message would come back only after the queue's visibility
 * timeout. Held by nobody: the checkpoint has not moved for `stalledAfterMs` (the enqueue after
 * `send` never happened, or the message went to the DLQ). Re-enqueueing is harmless either way:
 * a worker takes the campaign only under the lease, and resumes from the checkpoint.
 */
function fanoutStalled(deps: WatchDeps, updatedAt: string, leaseUntil: number | undefined): boolean {
  const now = deps.now().getTime();
  const idleMs = now - Date.parse(updatedAt);
  if (leaseUntil !== undefined) return leaseUntil < now && idleMs > deps.fanoutLeaseMs;
  return idleMs > deps.stalledAfterMs;
}

/**
 * The last safety net of "nobody lost": a sending campaign whose recipients have not moved for
 * `stalledAfterMs` (their send message was dead-lettered, or lost with a crashed worker, or a resume
 * was interrupted before it enqueued every held recipient again) gets its
 * waiting recipients put back on the send queue. Re-sending a recipient twice is impossible: the
 * ledger claim decides.
 */
async function requeueIfStalled(
  deps: WatchDeps,
  campaign: StoredCampaign,
  counts: RecipientCounts,
): Promise<number> {
  const terminal = counts.total - pendingCount(counts);
  const now = deps.now();
  if (campaign.watchTerminal !== terminal || !campaign.watchAt) {
    await deps.campaigns.recordWatch(campaign.id, terminal, now.toISOString());
    return 0;
  }
  if (now.getTime() - Date.parse(campaign.watchAt) < deps.stalledAfterMs) return 0;
  const emails = await deps.ledger.pending(campaign.id, now.getTime(), REQUEUE_PER_TICK);
  const requeued = await requeueRecipients(deps, campaign, emails);
  await deps.campaigns.recordWatch(campaign.id, terminal, now.toISOString());
  return requeued;
}
