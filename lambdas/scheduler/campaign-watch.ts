import type { AudienceStore } from "../adapters/audience-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import { deriveStatus } from "../domain/campaign.ts";

export interface WatchDeps {
  readonly audience: AudienceStore;
  readonly ledger: LedgerStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  readonly now: () => Date;
  /** A fan-out that has not moved its checkpoint for this long is re-enqueued. */
  readonly stalledAfterMs: number;
}

export interface WatchReport {
  readonly watched: number;
  readonly completed: number;
  readonly fanoutsResumed: number;
}

/**
 * Watches every sending campaign: completes those whose recipients are all terminal (so a campaign
 * ends `sent` even if nobody asks), and re-enqueues a fan-out that stopped moving (its message went
 * to the DLQ, or the enqueue after `send` never happened).
 */
export async function watchCampaigns(deps: WatchDeps): Promise<WatchReport> {
  let completed = 0;
  let fanoutsResumed = 0;
  const ids = await deps.audience.listActive();
  for (const id of ids) {
    const campaign = await deps.audience.getCampaign(id, true);
    if (!campaign || campaign.status === "sent") {
      await deps.audience.clearActive(id);
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
    }
  }
  return { watched: ids.length, completed, fanoutsResumed };
}
