import { describe, expect, it } from "vitest";
import type { StoredCampaign } from "../../lambdas/adapters/campaign-items.ts";
import type { FanoutSlice } from "../../lambdas/adapters/fanout-slices.ts";
import { fakeOwnership } from "./ownership-fakes.ts";
import { type WatchDeps, watchCampaigns } from "../../lambdas/scheduler/campaign-watch.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");

const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString();

/**
 * One sending campaign whose fan-out is not done; what the watch puts on the fan-out queue. With
 * `slices`, the reader has cut the whole list into them (run "r1").
 */
async function watch(fanout: { leaseUntil?: number; idleSeconds: number; slices?: FanoutSlice[] }) {
  const enqueued: unknown[] = [];
  const marked: number[] = [];
  const campaign = {
    id: "c1",
    listId: "l1",
    status: "sending",
    fanoutDone: false,
    updatedAt: ago(fanout.idleSeconds),
    ...(fanout.leaseUntil === undefined ? {} : { fanoutLeaseUntil: fanout.leaseUntil }),
    ...(fanout.slices ? { fanoutRun: "r1", fanoutRead: true, fanoutSlices: fanout.slices.length } : {}),
  } as StoredCampaign;
  const deps = {
    agenda: { listActive: async () => ["c1"], clearActive: async () => {} },
    campaigns: {
      get: async () => campaign,
      markFanoutEnqueued: async () => {},
      fanout: {
        slices: {
          list: async (_id: string, run: string) => (run === "r1" ? fanout.slices : []),
          markEnqueued: async (_id: string, _run: string, n: number) => void marked.push(n),
        },
      },
    },
    queue: { send: async (url: string, body: unknown) => void enqueued.push({ url, body }) },
    ownership: fakeOwnership({ region: "us-east-1" }).ownership,
    fanoutQueueUrl: "fanout-queue",
    now: () => new Date(NOW),
    stalledAfterMs: 600_000,
    fanoutLeaseMs: 60_000,
  } as unknown as WatchDeps;
  const report = await watchCampaigns(deps);
  return { report, enqueued, marked };
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

  it("puts back each slice whose worker died, and only those, once the reader has cut the list", async () => {
    const slices: FanoutSlice[] = [
      { n: 0, last: "a", done: true, updatedAt: ago(300) },
      // Its worker crashed: the lease ran out 10 s ago, no page for 70 s.
      { n: 1, after: "a", last: "b", done: false, leaseUntil: NOW - 10_000, updatedAt: ago(70) },
      // Being written: the lease is live.
      { n: 2, after: "b", last: "c", done: false, leaseUntil: NOW + 30_000, updatedAt: ago(5) },
      // Nobody took it for more than a lease: its worker died before the lease, or it waits behind others.
      { n: 3, after: "c", last: "d", done: false, updatedAt: ago(70) },
      // Cut (or put back) 30 s ago, waiting its turn.
      { n: 4, after: "d", last: "e", done: false, updatedAt: ago(30) },
    ];
    const { report, enqueued, marked } = await watch({ idleSeconds: 900, slices });
    expect(report.fanoutsResumed).toBe(1);
    expect(enqueued).toEqual(
      [1, 3].map((n) => ({ url: "fanout-queue", body: { campaignId: "c1", slice: { run: "r1", n } } })),
    );
    // Marked, so that the next tick leaves them for another lease.
    expect(marked).toEqual([1, 3]);
  });

  it("puts the reader back to finish a fan-out whose slices are all done but that was never marked done", async () => {
    const slices: FanoutSlice[] = [{ n: 0, last: "a", done: true, updatedAt: ago(900) }];
    expect((await watch({ idleSeconds: 300, slices })).enqueued).toEqual([]);
    expect((await watch({ idleSeconds: 700, slices })).enqueued).toEqual([
      { url: "fanout-queue", body: { campaignId: "c1" } },
    ]);
  });
});
