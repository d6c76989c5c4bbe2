import type { AudienceStore } from "../adapters/audience-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import { type Campaign, deriveStatus } from "../domain/campaign.ts";
import { pendingCount, type RecipientCounts } from "../domain/ledger.ts";
import { chunk } from "../shared/concurrency.ts";
import { RECIPIENTS_PER_MESSAGE } from "../adapters/queue.ts";

export interface WatchDeps {
  readonly audience: AudienceStore;
  readonly ledger: LedgerStore;
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
 * Watches every sending campaign: completes those whose recipients are all terminal (so a campaign
 * ends `sent` even if nobody asks), and re-enqueues a fan-out that stopped moving (its message went
 * to the DLQ, or the enqueue after `send` never happened).
 */
export async function watchCampaigns(deps: WatchDeps): Promise<WatchReport> {
  let completed = 0;
  let fanoutsResumed = 0;
  let recipientsRequeued = 0;
  const ids = await deps.audience.listActive();
  for (const id of ids) {
    const campaign = await deps.audience.getCampaign(id, true);
    if (!campaign || campaign.status === "sent") {
      await deps.audience.clearActive(id);
      continue;
    }
    if (campaign.status === "cancelled") {
      // Finish what the cancel request could not: every recipient still waiting becomes cancelled.
      const pending = await deps.ledger.pending(id, deps.now().getTime(), 500);
      for (const email of pending) await deps.ledger.cancel(id, email, deps.now().getTime());
      if (pending.length === 0) {
        const counts = await deps.ledger.count(id);
        if (counts.sending === 0) {
          await deps.audience.freezeCounts(id, counts, deps.now().toISOString());
          await deps.audience.clearActive(id);
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
        await deps.audience.markFanoutEnqueued(id, deps.now().toISOString());
        fanoutsResumed++;
      }
      continue;
    }
    const counts = await deps.ledger.count(id);
    if (deriveStatus(campaign, counts) === "sent") {
      await deps.audience.completeCampaign(id, counts, deps.now().toISOString());
      await deps.audience.clearActive(id);
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
  campaign: Campaign,
  counts: RecipientCounts,
): Promise<number> {
  const terminal = counts.total - pendingCount(counts);
  const now = deps.now();
  if (campaign.watchTerminal !== terminal || !campaign.watchAt) {
    await deps.audience.recordWatch(campaign.id, terminal, now.toISOString());
    return 0;
  }
  if (now.getTime() - Date.parse(campaign.watchAt) < deps.stalledAfterMs) return 0;
  const emails = await deps.ledger.pending(campaign.id, now.getTime(), 5_000);
  const subscribers = new Map(
    (await deps.audience.subscribersOf(campaign.listId, emails)).map((s) => [s.email, s.attributes]),
  );
  const recipients = emails.map((email) => ({ email, attributes: subscribers.get(email) ?? {} }));
  await deps.queue.sendAll(
    deps.sendQueueUrl,
    chunk(recipients, RECIPIENTS_PER_MESSAGE).map((group) => ({
      campaignId: campaign.id,
      recipients: group,
    })),
  );
  await deps.audience.recordWatch(campaign.id, terminal, now.toISOString());
  return recipients.length;
}
