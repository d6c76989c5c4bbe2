import { describe, expect, it } from "vitest";
import type { StoredCampaign } from "../../lambdas/adapters/campaign-items.ts";
import { emptyCounts } from "../../lambdas/domain/ledger.ts";
import type { OwnerRecord } from "../../lambdas/domain/ownership.ts";
import { type WatchDeps, watchCampaigns } from "../../lambdas/scheduler/campaign-watch.ts";
import { fakeOwnership } from "./ownership-fakes.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");

/** The watch of `region` over one sending campaign owned as `owner` says; what it wrote and enqueued. */
async function watchAs(region: string, owner: OwnerRecord, campaign: Partial<StoredCampaign> = {}) {
  const writes: string[] = [];
  const enqueued: unknown[] = [];
  const { ownership, records } = fakeOwnership({ region, now: () => NOW });
  records.set("c1", owner);
  let stored = {
    id: "c1",
    listId: "l1",
    status: "sending",
    fanoutDone: true,
    updatedAt: new Date(NOW).toISOString(),
    ...campaign,
  } as StoredCampaign;
  const deps = {
    ownership,
    agenda: { listActive: async () => ["c1"], clearActive: async () => {}, markActive: async () => {} },
    campaigns: {
      get: async () => stored,
      transition: async (_id: string, action: string) => {
        writes.push(action);
        if (action === "pause") stored = { ...stored, status: "paused" };
        return stored;
      },
      recordWatch: async () => void writes.push("recordWatch"),
      markIntentApplied: async (_id: string, r: string) => void writes.push(`applied:${r}`),
      adopt: async (_id: string, r: string, _now: string, restartFanout: boolean) => {
        writes.push(`adopt:${r}${restartFanout ? ":restart-fanout" : ""}`);
        stored = {
          ...stored,
          ownerRegion: r,
          requeueAll: true,
          ...(restartFanout ? { fanoutDone: false } : {}),
        };
      },
      clearRequeueAll: async () => void writes.push("clearRequeueAll"),
      markFanoutEnqueued: async () => {},
    },
    ledger: {
      count: async () => ({ ...emptyCounts(), queued: 2, sending: 1, total: 3 }),
      pending: async (_id: string, asOf: number) => (asOf > NOW + 60_000 ? ["a@x", "b@x", "c@x"] : ["a@x"]),
    },
    subscribers: { subscribersOf: async () => [] },
    queue: {
      send: async (_url: string, body: unknown) => void enqueued.push(body),
      sendAll: async (_url: string, bodies: unknown[]) => void enqueued.push(...bodies),
    },
    fanoutQueueUrl: "fanout",
    sendQueueUrl: "send",
    now: () => new Date(NOW),
    stalledAfterMs: 600_000,
    fanoutLeaseMs: 60_000,
  } as unknown as WatchDeps;
  const report = await watchCampaigns(deps);
  return { report, writes, enqueued, records };
}

const live = { campaignId: "c1", ownerRegion: "us-east-1", epoch: 1, leaseUntil: NOW + 60_000 };

describe("the watch and campaign owners", () => {
  it("leaves a campaign another region owns alone: no write, nothing enqueued", async () => {
    const { report, writes, enqueued } = await watchAs("us-west-2", live);
    expect(report).toMatchObject({ elsewhere: 1, takenOver: 0 });
    expect(writes).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it("marks a campaign its owner finished in the owner record, and no region takes it over after that", async () => {
    const done = await watchAs("us-east-1", live, { status: "sent" });
    const finished = done.records.get("c1");
    expect(finished?.finishedAt).toBe(new Date(NOW).toISOString());
    // The other region's replica still shows it sending (replication down), and the lease ran out.
    const other = await watchAs("us-west-2", { ...(finished as OwnerRecord), leaseUntil: NOW - 60_000 });
    expect(other.report).toMatchObject({ elsewhere: 1, takenOver: 0 });
    expect(other.writes).toEqual([]);
    expect(other.enqueued).toEqual([]);
  });

  it("takes over a campaign whose owner's lease ran out, then re-enqueues every recipient not yet terminal", async () => {
    const gone = { ...live, leaseUntil: NOW - 1 };
    const first = await watchAs("us-west-2", gone);
    expect(first.report.takenOver).toBe(1);
    expect(first.records.get("c1")).toMatchObject({ ownerRegion: "us-west-2", epoch: 2 });
    // The gone owner had finished the fan-out, but its last ledger items may not have replicated:
    // the list is fanned out again here before the campaign can complete.
    expect(first.writes).toContain("adopt:us-west-2:restart-fanout");
    expect(first.enqueued).toEqual([{ campaignId: "c1" }]);
    // The next tick (the campaign now carries requeueAll): the gone region's claims count as run out.
    const next = await watchAs(
      "us-west-2",
      { ...live, ownerRegion: "us-west-2", epoch: 2 },
      { requeueAll: true },
    );
    expect(next.report.recipientsRequeued).toBe(3);
    expect(next.writes).toContain("clearRequeueAll");
  });

  it("applies another region's pause intent once, and records it as applied", async () => {
    const intents = [{ region: "us-west-2", action: "pause" as const, at: "2026-06-01T11:59:59Z" }];
    const { writes } = await watchAs("us-east-1", live, { intents });
    expect(writes).toEqual(["pause", "applied:us-west-2"]);
    const again = await watchAs("us-east-1", live, {
      intents,
      ["intentApplied:us-west-2" as never]: "2026-06-01T11:59:59Z",
    });
    expect(again.writes).not.toContain("pause");
  });
});
