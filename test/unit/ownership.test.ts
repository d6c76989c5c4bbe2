import { describe, expect, it } from "vitest";
import {
  effectiveStatus,
  mayAct,
  mayTakeOver,
  type OwnerRecord,
  pendingIntents,
  SAFETY_MARGIN_MS,
} from "../../lambdas/domain/ownership.ts";
import {
  claimOwner,
  finishOwnership,
  requestOfOwner,
  standing,
  takeOverOwner,
} from "../../lambdas/usecases/campaign-ownership.ts";
import { fakeOwnership } from "./ownership-fakes.ts";

const NOW = Date.parse("2026-06-01T12:00:00Z");
const record = (over: Partial<OwnerRecord> = {}): OwnerRecord => ({
  campaignId: "c1",
  ownerRegion: "us-east-1",
  epoch: 1,
  leaseUntil: NOW + 60_000,
  ...over,
});

describe("ownership rules", () => {
  it("lets the owner act only while its lease has more than the safety margin left", () => {
    expect(mayAct(record(), "us-east-1", NOW)).toBe(true);
    expect(mayAct(record(), "us-west-2", NOW)).toBe(false);
    expect(mayAct(record({ leaseUntil: NOW + SAFETY_MARGIN_MS - 1 }), "us-east-1", NOW)).toBe(false);
  });

  it("lets another region take over only once the lease has run out", () => {
    expect(mayTakeOver(record(), "us-west-2", NOW)).toBe(false);
    expect(mayTakeOver(record({ leaseUntil: NOW - 1 }), "us-west-2", NOW)).toBe(true);
    expect(mayTakeOver(record({ leaseUntil: NOW - 1 }), "us-east-1", NOW)).toBe(false);
  });

  it("stops the owner before any other region may start: the margin separates them", () => {
    for (let t = NOW; t < NOW + 120_000; t += 1_000) {
      expect(mayAct(record(), "us-east-1", t) && mayTakeOver(record(), "us-west-2", t)).toBe(false);
    }
  });

  it("orders intents by time and keeps only those not applied yet", () => {
    const intents = [
      { region: "us-west-2", action: "resume" as const, at: "2026-06-01T12:00:05Z" },
      { region: "eu-west-1", action: "pause" as const, at: "2026-06-01T12:00:01Z" },
    ];
    expect(pendingIntents(intents, {}).map((i) => i.action)).toEqual(["pause", "resume"]);
    expect(pendingIntents(intents, { "eu-west-1": "2026-06-01T12:00:01Z" }).map((i) => i.action)).toEqual([
      "resume",
    ]);
  });

  it("obeys a pending pause or cancel before the owner has written it", () => {
    const pause = { region: "us-west-2", action: "pause" as const, at: "t1" };
    const cancel = { region: "us-west-2", action: "cancel" as const, at: "t2" };
    expect(effectiveStatus("sending", [pause])).toBe("paused");
    expect(effectiveStatus("sending", [pause, cancel])).toBe("cancelled");
    expect(effectiveStatus("sent", [pause])).toBe("sent");
  });
});

describe("ownership use cases", () => {
  it("gives a campaign sent through two regions at once one owner", async () => {
    const east = fakeOwnership({ region: "us-east-1", now: () => NOW });
    const west = { ...east.ownership, region: "us-west-2" };
    const [a, b] = await Promise.all([claimOwner(east.ownership, "c1"), claimOwner(west, "c1")]);
    expect(a.ownerRegion).toBe(b.ownerRegion);
    expect(east.records.size).toBe(1);
  });

  it("claims for the home region when there is no coordination table", async () => {
    const west = fakeOwnership({
      region: "us-west-2",
      homeRegion: "us-east-1",
      coordinated: false,
      now: () => NOW,
    });
    expect((await claimOwner(west.ownership, "c1")).ownerRegion).toBe("us-east-1");
  });

  it("records a control call for a campaign another region owns as this region's intent", async () => {
    const { ownership, records, intents } = fakeOwnership({ region: "us-west-2", now: () => NOW });
    records.set("c1", record());
    const requested = await requestOfOwner(ownership, "c1", "pause", "2026-06-01T12:00:00Z", "why");
    expect(requested).toMatchObject({ kind: "requested", ownerRegion: "us-east-1", action: "pause" });
    expect(intents).toEqual([
      { campaignId: "c1", region: "us-west-2", action: "pause", at: "2026-06-01T12:00:00Z", reason: "why" },
    ]);
    // The owner applies its own calls itself: no intent.
    const owner = { ...ownership, region: "us-east-1" };
    expect(await requestOfOwner(owner, "c1", "pause", "2026-06-01T12:00:01Z")).toBeUndefined();
    expect(intents).toHaveLength(1);
  });

  it("renews the lease when half of it is gone, and lapses an owner that lost the campaign", async () => {
    let now = NOW;
    const { ownership, records } = fakeOwnership({ region: "us-east-1", leaseMs: 60_000, now: () => now });
    records.set("c1", record({ leaseUntil: NOW + 20_000 }));
    const renewed = await standing(ownership, "c1");
    expect(renewed).toMatchObject({ kind: "owner", record: { leaseUntil: NOW + 60_000 } });
    // Another region took it over meanwhile: this region's view is stale and its renewal refused.
    const stale = record({ leaseUntil: NOW + 15_000 });
    records.set("c1", record({ ownerRegion: "us-west-2", epoch: 2 }));
    now = NOW + 10_000;
    expect((await standing(ownership, "c1", stale)).kind).toBe("lapsed");
  });

  it("never takes over a campaign its owner finished, however long ago its lease ran out", async () => {
    let now = NOW;
    const east = fakeOwnership({ region: "us-east-1", now: () => now });
    east.records.set("c1", record());
    await finishOwnership(east.ownership, "c1");
    expect(east.records.get("c1")?.finishedAt).toBe(new Date(NOW).toISOString());
    expect(mayTakeOver(east.records.get("c1") as OwnerRecord, "us-west-2", NOW + 3_600_000)).toBe(false);

    const west = fakeOwnership({ region: "us-west-2", now: () => now });
    west.records.set("c1", east.records.get("c1") as OwnerRecord);
    now = NOW + 3_600_000;
    const refused = await takeOverOwner(west.ownership, "c1");
    expect(refused.kind).toBe("refused");
    expect(refused.kind === "refused" ? refused.reason : "").toMatch(/finished the campaign/);
    // Only the owner marks it: another region's call changes nothing.
    west.records.set("c2", record({ campaignId: "c2" }));
    await finishOwnership(west.ownership, "c2");
    expect(west.records.get("c2")?.finishedAt).toBeUndefined();
  });

  it("refuses a takeover while the owner's lease is live, and takes over once it ran out", async () => {
    let now = NOW;
    const { ownership, records } = fakeOwnership({ region: "us-west-2", now: () => now });
    records.set("c1", record());
    expect(await takeOverOwner(ownership, "c1")).toMatchObject({ kind: "refused" });
    now = NOW + 61_000;
    expect(await takeOverOwner(ownership, "c1")).toMatchObject({
      kind: "taken",
      record: { ownerRegion: "us-west-2", epoch: 2 },
    });
    expect(await takeOverOwner(ownership, "c1")).toMatchObject({ kind: "already" });
    expect(await takeOverOwner(ownership, "nobody")).toMatchObject({ kind: "refused" });
  });
});
