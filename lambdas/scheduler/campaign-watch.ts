import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import type { CampaignStore, StoredCampaign } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import { pendingCount, type RecipientCounts } from "../domain/ledger.ts";
import { completeIfDone, requeueRecipients, sweepCancelled } from "../usecases/campaign-workflows.ts";

export interface WatchDeps {
  readonly campaigns: CampaignStore;
  readonly agenda: CampaignAgendaStore;
  readonly ledger: LedgerStore;
  readonly subscribers: SubscriberStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  readonly sendQueueUrl: string;
  readonly now: () => Date;
  /** A fan-out that has not moved its checkpoint for this long is re-enqueued. */
  readonly stalledAfterMs: number;
}

export interface WatchReport {
  readonly watched: number;
  readonly completed: number;
  readonly fanoutsResumed: number;
  readonly recipientsRequeued: number;
}

/**
 * Watches every campaign on its way: completes those whose recipients are all terminal (so a
 * campaign ends `sent` even if nobody asks), finishes the sweep of cancelled ones, and re-enqueues a
 * fan-out that stopped moving (its message went to the DLQ, or the enqueue after `send` never
 * happened).
 */
export async function watchCampaigns(deps: WatchDeps): Promise<WatchReport> {
  let completed = 0;
  let fanoutsResumed = 0;
  let recipientsRequeued = 0;
  const ids = await deps.agenda.listActive();
  for (const id of ids) {
    const campaign = await deps.campaigns.get(id, true);
    if (!campaign || campaign.status === "sent") {
      await deps.agenda.clearActive(id);
      continue;
    }
    if (campaign.status === "cancelled") {
      // Finish what the cancel request could not: every recipient still waiting becomes cancelled.
      const swept = await sweepCancelled(deps, id, 500);
      if (swept.pending === 0) {
        const counts = await deps.ledger.count(id);
        if (counts.sending === 0) {
          await deps.campaigns.freezeCounts(id, counts, deps.now().toISOString());
          await deps.agenda.clearActive(id);
          completed++;
        }
      }
      continue;
    }
    if (campaign.status === "draft") continue;
    if (!campaign.fanoutDone) {
      const idleMs = deps.now().getTime() - Date.parse(campaign.updatedAt);
      if (idleMs > deps.stalledAfterMs) {
        await deps.queue.send(deps.fanoutQueueUrl, { campaignId: id });
        await deps.campaigns.markFanoutEnqueued(id, deps.now().toISOString());
        fanoutsResumed++;
      }
      continue;
    }
    const counts = await deps.ledger.count(id);
    if ((await completeIfDone(deps, campaign, counts, deps.now().toISOString())) === "sent") {
      completed++;
      continue;
    }
    if (campaign.status === "sending") recipientsRequeued += await requeueIfStalled(deps, campaign, counts);
  }
  return { watched: ids.length, completed, fanoutsResumed, recipientsRequeued };
}

/**
 * The last safety net of "nobody lost": a sending campaign whose recipients have not moved for
 * `stalledAfterMs` (their send message was dead-lettered, or lost with a crashed worker) gets its
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
  const emails = await deps.ledger.pending(campaign.id, now.getTime(), 5_000);
  const requeued = await requeueRecipients(deps, campaign, emails);
  await deps.campaigns.recordWatch(campaign.id, terminal, now.toISOString());
  return requeued;
}
