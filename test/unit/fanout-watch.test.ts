import { describe, expect, it } from "vitest";
import type { StoredCampaign } from "../../lambdas/adapters/campaign-items.ts";
import { fakeOwnership } from "./ownership-fakes.ts";
import { type WatchDeps, watchCampaigns } from "../../lambdas/scheduler/campaign-watch.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");

/** One sending campaign whose fan-out is not done; what the watch puts on the fan-out queue. */
async function watch(fanout: { leaseUntil?: number; idleSeconds: number }) {
  const enqueued: unknown[] = [];
  const campaign = {
    id: "c1",
    listId: "l1",
    status: "sending",
    fanoutDone: false,
    updatedAt: new Date(NOW - fanout.idleSeconds * 1000).toISOString(),
    ...(fanout.leaseUntil === undefined ? {} : { fanoutLeaseUntil: fanout.leaseUntil }),
  } as StoredCampaign;
  const deps = {
    agenda: { listActive: async () => ["c1"], clearActive: async () => {} },
    campaigns: { get: async () => campaign, markFanoutEnqueued: async () => {} },
    queue: { send: async (url: string, body: unknown) => void enqueued.push({ url, body }) },
    ownership: fakeOwnership({ region: "us-east-1" }).ownership,
    fanoutQueueUrl: "fanout-queue",
    now: () => new Date(NOW),
    stalledAfterMs: 600_000,
    fanoutLeaseMs: 60_000,
  } as unknown as WatchDeps;
  const report = await watchCampaigns(deps);
  return { report, enqueued };
}

describe("the scheduler's watch over a fan-out", () => {
  it("puts a fan-out back on its queue once its worker's lease ran out and it has not moved for a lease", async () => {
    // The worker crashed 70 s ago: its message would return only after the queue's 30-minute visibility.
    const { report, enqueued } = await watch({ leaseUntil: NOW - 10_000, idleSeconds: 70 });
    expect(report.fanoutsResumed).toBe(1);
    expect(enqueued).toEqual([{ url: "fanout-queue", body: { campaignId: "c1" } }]);
  });

  it("leaves a fan-out alone while its lease is live, or when it moved since", async () => {
    expect((await watch({ leaseUntil: NOW + 10_000, idleSeconds: 500 })).enqueued).toEqual([]);
    expect((await watch({ leaseUntil: NOW - 10_000, idleSeconds: 30 })).enqueued).toEqual([]);
  });

  it("waits the general stall time for a fan-out nobody ever took up", async () => {
    expect((await watch({ idleSeconds: 300 })).enqueued).toEqual([]);
    expect((await watch({ idleSeconds: 700 })).enqueued).toHaveLength(1);
  });
});
