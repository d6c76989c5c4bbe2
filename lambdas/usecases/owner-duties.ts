import { appliedIntents, type StoredCampaign } from "../adapters/campaign-items.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { CampaignStatus } from "../domain/campaign.ts";
import { pendingIntents } from "../domain/ownership.ts";
import { takeOverOwner, type TakeoverOutcome } from "./campaign-ownership.ts";
import {
  type CampaignDeps,
  cancelCampaign,
  pauseCampaign,
  requestSend,
  type ResumeDeps,
  resumeCampaign,
} from "./campaign-workflows.ts";

/**
 * What only a campaign's owner region does: apply the control calls other regions recorded for it,
 * and adopt a campaign it took over from a region that is gone.
 */
export type OwnerDeps = CampaignDeps & ResumeDeps & { readonly campaigns: CampaignStore };

/** How long applying one resume or cancel may spend re-enqueueing or marking; the watch does the rest. */
const APPLY_BUDGET_MS = 3_000;

/**
 * Applies the intents of other regions this owner has not applied yet, oldest first, and records
 * each as applied whatever the lifecycle decided (a resume of a campaign that is already sending
 * changes nothing). Returns how many it applied.
 */
export async function applyIntents(deps: OwnerDeps, campaign: StoredCampaign): Promise<number> {
  const pending = pendingIntents(campaign.intents ?? [], appliedIntents(campaign));
  for (const intent of pending) {
    const now = new Date();
    switch (intent.action) {
      case "pause":
        await pauseCampaign(
          deps,
          campaign.id,
          intent.reason ?? `paused through ${intent.region}`,
          now.toISOString(),
        );
        break;
      case "resume":
        await resumeCampaign(deps, campaign.id, now, APPLY_BUDGET_MS);
        break;
      case "cancel":
        await cancelCampaign(deps, campaign.id, now, APPLY_BUDGET_MS);
        break;
      case "send":
        await requestSend(deps, campaign.id, now);
        break;
    }
    await deps.campaigns.markIntentApplied(campaign.id, intent.region, intent.at);
  }
  return pending.length;
}

const ON_ITS_WAY: ReadonlySet<CampaignStatus> = new Set(["queued", "sending", "paused"]);

/**
 * Takes a campaign over from an owner whose lease ran out, and adopts it: records this region as
 * the owner on the campaign item, fans a campaign on its way out again here at once, and marks the
 * campaign so the watch re-enqueues every recipient not yet terminal (`requeueAll`). The fan-out
 * runs again even when the gone region had finished it: the ledger items it wrote last may not
 * have replicated before it was lost (they stay in its replica until it returns), and a campaign
 * must not be completed here without them. What the gone region had in flight is the
 * cross-region duplicate window (README, "one duplicate window").
 */
export async function takeOver(deps: OwnerDeps, campaignId: string): Promise<TakeoverOutcome> {
  const outcome = await takeOverOwner(deps.ownership, campaignId);
  if (outcome.kind !== "taken") return outcome;
  const now = new Date().toISOString();
  const before = await deps.campaigns.get(campaignId, true);
  const onItsWay = before !== undefined && ON_ITS_WAY.has(before.status);
  await deps.campaigns.adopt(campaignId, deps.ownership.region, now, onItsWay);
  if (before && onItsWay) {
    await deps.agenda.markActive(campaignId, before.listId, now);
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId });
    await deps.campaigns.markFanoutEnqueued(campaignId, now);
  }
  return outcome;
}
