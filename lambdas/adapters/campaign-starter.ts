import type { CampaignStatus } from "../domain/campaign.ts";
import type { AudienceStore } from "./audience-store.ts";
import type { FanoutMessage, QueuePublisher } from "./queue.ts";

export interface StarterDeps {
  readonly audience: AudienceStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
}

/**
 * Starts a campaign: registers it with the scheduler's watch, moves it `from → queued` and enqueues
 * its fan-out. Shared by `POST /v1/campaigns/{id}/send` (from `draft`) and the scheduler (from
 * `scheduled`). Safe to repeat: the transition happens once, and the fan-out is enqueued again only
 * if it never made it to the queue (the process died between the two writes). Returns the status
 * the campaign has afterwards, or undefined if it does not exist.
 */
export async function startCampaign(
  deps: StarterDeps,
  id: string,
  from: "draft" | "scheduled",
  now: string,
): Promise<CampaignStatus | undefined> {
  let campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) return undefined;
  if (campaign.status === from) {
    await deps.audience.markActive(id, now);
    await deps.audience.transitionCampaign(id, from, "queued", now, { sendRequestedAt: now });
    campaign = await deps.audience.getCampaign(id, true);
    if (!campaign) return undefined;
  }
  if (campaign.status !== "draft" && campaign.status !== "scheduled" && !campaign.fanoutEnqueuedAt) {
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId: id } satisfies FanoutMessage);
    await deps.audience.markFanoutEnqueued(id, now);
  }
  return campaign.status;
}
