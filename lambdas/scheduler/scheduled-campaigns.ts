import type { ListStore } from "../adapters/list-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import { type CampaignDeps, startCampaign } from "../usecases/campaign-workflows.ts";

export interface ScheduledDeps extends CampaignDeps {
  readonly lists: ListStore;
  readonly queue: QueuePublisher;
  /** Where list erasures go (the audience-jobs function consumes them). */
  readonly audienceJobsQueueUrl: string;
  readonly now: () => Date;
  /** An erasure not finished this long after it was enqueued is enqueued again. */
  readonly erasureRetryAfterMs: number;
}

export interface ScheduledReport {
  readonly started: number;
  readonly erasuresResumed: number;
}

/**
 * Starts every scheduled campaign whose time has come (`scheduled → queued`, then the fan-out, as
 * `send` does), and re-enqueues list erasures that did not finish (their message was lost or went
 * to the DLQ). Runs every minute, so a campaign starts within a minute of its `scheduledAt`.
 */
export async function runScheduledWork(deps: ScheduledDeps): Promise<ScheduledReport> {
  const now = deps.now();
  let started = 0;
  for (const { id, entry } of await deps.agenda.dueScheduled(now.toISOString())) {
    const campaign = await deps.campaigns.get(id, true);
    const status = campaign && (await startCampaign(deps, campaign, now.toISOString()))?.status;
    // The entry goes only once the campaign has left `scheduled` (or is gone): a crash before
    // this point leaves it for the next tick, and startCampaign is safe to repeat.
    if (status !== "scheduled") await deps.agenda.clearScheduled(entry);
    if (status !== undefined && status !== "scheduled" && status !== "cancelled") started++;
  }
  let erasuresResumed = 0;
  const stale = new Date(now.getTime() - deps.erasureRetryAfterMs).toISOString();
  for (const listId of await deps.lists.pendingErasures(stale)) {
    await deps.queue.send(deps.audienceJobsQueueUrl, { kind: "erase-list", listId });
    await deps.lists.markErasureEnqueued(listId, now.toISOString());
    erasuresResumed++;
  }
  return { started, erasuresResumed };
}
