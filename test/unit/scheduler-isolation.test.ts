import { describe, expect, it } from "vitest";
import type { StoredCampaign } from "../../lambdas/adapters/campaign-items.ts";
import { emptyCounts } from "../../lambdas/domain/ledger.ts";
import { fakeOwnership } from "./ownership-fakes.ts";
import { type WatchDeps, watchCampaigns } from "../../lambdas/scheduler/campaign-watch.ts";
import { type ScheduledDeps, runScheduledWork } from "../../lambdas/scheduler/scheduled-campaigns.ts";

/** Sending campaigns whose recipients are all sent, except `broken`, whose reads throw. */
function watchFixture(ids: string[], broken: string) {
  const completed: string[] = [];
  const cleared: string[] = [];
  const deps = {
    agenda: {
      listActive: async () => ids,
      clearActive: async (id: string) => void cleared.push(id),
    },
    campaigns: {
      get: async (id: string) => {
        if (id === broken) throw new Error("ProvisionedThroughputExceededException");
        return { id, listId: "l1", status: "sending", fanoutDone: true } as StoredCampaign;
      },
      transition: async (id: string, action: string) => {
        if (action === "complete") completed.push(id);
        return undefined;
      },
    },
    ledger: { count: async () => ({ ...emptyCounts(), sent: 3, total: 3 }) },
    ownership: fakeOwnership({ region: "us-east-1" }).ownership,
    now: () => new Date(),
    stalledAfterMs: 600_000,
    fanoutLeaseMs: 60_000,
  } as unknown as WatchDeps;
  return { deps, completed, cleared };
}

describe("scheduler isolation", () => {
  it("the watch gives every campaign its turn when one of them throws", async () => {
    const { deps, completed, cleared } = watchFixture(["a", "broken", "c", "d"], "broken");
    const errors: string[] = [];
    const report = await watchCampaigns(deps, (id) => errors.push(id));
    expect(report).toMatchObject({ watched: 4, completed: 3, failed: 1 });
    expect(completed.sort()).toEqual(["a", "c", "d"]);
    expect(cleared.sort()).toEqual(["a", "c", "d"]);
    expect(errors).toEqual(["broken"]);
  });

  it("scheduled starts carry on past a campaign that throws", async () => {
    const started: string[] = [];
    const cleared: string[] = [];
    const deps = {
      agenda: {
        dueScheduled: async () => ["a", "broken", "c"].map((id) => ({ id, entry: `S#${id}` })),
        clearScheduled: async (entry: string) => void cleared.push(entry),
        markActive: async () => {},
      },
      campaigns: {
        get: async (id: string) => {
          if (id === "broken") throw new Error("boom");
          return { id, status: "scheduled", fanoutEnqueuedAt: "then" } as StoredCampaign;
        },
        transition: async (id: string) => {
          started.push(id);
          return { id, status: "queued", fanoutEnqueuedAt: "then" } as StoredCampaign;
        },
      },
      lists: { pendingErasures: async () => [] },
      ownership: fakeOwnership({ region: "us-east-1" }).ownership,
      now: () => new Date(),
      erasureRetryAfterMs: 900_000,
    } as unknown as ScheduledDeps;
    const errors: string[] = [];
    const report = await runScheduledWork(deps, (id) => errors.push(id));
    expect(report).toEqual({ started: 2, erasuresResumed: 0, failed: 1 });
    expect(started).toEqual(["a", "c"]);
    expect(cleared).toEqual(["S#a", "S#c"]);
    expect(errors).toEqual(["broken"]);
  });
});
