import type { ListStore } from "../adapters/list-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import { startCampaign } from "../usecases/campaign-workflows.ts";
import { acts, standing } from "../usecases/campaign-ownership.ts";
import { type OwnerDeps, takeOver } from "../usecases/owner-duties.ts";
import { mayTakeOver } from "../domain/ownership.ts";

export type ScheduledDeps = OwnerDeps & {
  readonly lists: ListStore;
  readonly queue: QueuePublisher;
  /** Where list erasures go (the audience-jobs function consumes them). */
  readonly audienceJobsQueueUrl: string;
  readonly now: () => Date;
  /** An erasure not finished this long after it was enqueued is enqueued again. */
  readonly erasureRetryAfterMs: number;
};

export interface ScheduledReport {
  readonly started: number;
  readonly erasuresResumed: number;
  /** Campaigns or erasures whose turn threw (logged); the others had theirs. */
  readonly failed: number;
}

/**
 * Starts every scheduled campaign whose time has come (`scheduled → queued`, then the fan-out, as
 * `send` does), and re-enqueues list erasures that did not finish (their message was lost or went
 * to the DLQ). Runs every minute, so a campaign starts within a minute of its `scheduledAt`. Each
 * campaign and erasure is on its own: one that throws is reported to `onError` and counted, and
 * the others still get their turn (the failed one is tried again at the next tick).
 */
export async function runScheduledWork(
  deps: ScheduledDeps,
  onError: (id: string, error: unknown) => void = () => {},
): Promise<ScheduledReport> {
  const now = deps.now();
  let failed = 0;
  const isolated = async (id: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      failed++;
      onError(id, error);
    }
  };
  let started = 0;
  for (const { id, entry } of await deps.agenda.dueScheduled(now.toISOString())) {
    await isolated(id, async () => {
      // Only the owner starts it; with a coordination table, a region finds an owner gone (its
      // lease ran out) and takes the campaign over first. The other regions leave the entry alone:
      // the owner clears it.
      const s = await standing(deps.ownership, id);
      if (!acts(deps.ownership, s)) {
        const now = deps.ownership.now();
        const gone =
          s.kind === "other" &&
          deps.ownership.coordinated &&
          mayTakeOver(s.record, deps.ownership.region, now);
        if (!gone || (await takeOver(deps, id)).kind !== "taken") return;
      }
      const campaign = await deps.campaigns.get(id, true);
      const status = campaign && (await startCampaign(deps, campaign, now.toISOString()))?.status;
      // The entry goes only once the campaign has left `scheduled` (or is gone): a crash before
      // this point leaves it for the next tick, and startCampaign is safe to repeat.
      if (status !== "scheduled") await deps.agenda.clearScheduled(entry);
      if (status !== undefined && status !== "scheduled" && status !== "cancelled") started++;
    });
  }
  let erasuresResumed = 0;
  const stale = new Date(now.getTime() - deps.erasureRetryAfterMs).toISOString();
  for (const listId of await deps.lists.pendingErasures(stale)) {
    await isolated(listId, async () => {
      await deps.queue.send(deps.audienceJobsQueueUrl, { kind: "erase-list", listId });
      await deps.lists.markErasureEnqueued(listId, now.toISOString());
      erasuresResumed++;
    });
  }
  return { started, erasuresResumed, failed };
}
