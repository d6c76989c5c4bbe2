import { describe, expect, it } from "vitest";
import type { Segment } from "../../lambdas/adapters/segment-store.ts";
import type { Campaign } from "../../lambdas/domain/campaign.ts";
import { type CampaignAudience, inAudience } from "../../lambdas/domain/segment.ts";
import { freezeAudience } from "../../lambdas/usecases/campaign-audience.ts";

const base = { id: "c1", listId: "l1", status: "queued" } as Campaign;
const pro: Segment = {
  id: "pro",
  name: "Pro",
  rule: { attribute: "plan", op: "eq", value: "pro" },
  version: 3,
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-02T00:00:00Z",
};

/** What freezeAudience fixes for a campaign, with `segments` the store holds. */
async function freeze(campaign: Campaign, segments: Segment[]) {
  const set: CampaignAudience[] = [];
  const deps = {
    campaigns: {
      fanout: {
        setAudience: async (_id: string, audience: CampaignAudience) => {
          set.push(audience);
          return audience;
        },
      },
    },
    segments: { get: async (id: string) => segments.find((s) => s.id === id) },
  } as unknown as Parameters<typeof freezeAudience>[0];
  return { audience: await freezeAudience(deps, campaign), writes: set.length };
}

const someone = (plan: string) => ({ attributes: { plan }, status: "subscribed" });

describe("fixing a campaign's audience when its fan-out starts", () => {
  it("copies the segments it names with their versions, and the excluded lists", async () => {
    const { audience } = await freeze({ ...base, segmentId: "pro", excludeListIds: ["l2"] }, [pro]);
    expect(audience).toEqual({
      include: { id: "pro", version: 3, rule: pro.rule },
      exclude: [],
      excludeListIds: ["l2"],
    });
  });

  it("writes nothing for a campaign to the whole list, or one fixed before", async () => {
    expect(await freeze(base, [pro])).toEqual({ audience: undefined, writes: 0 });
    const fixed: CampaignAudience = { exclude: [], excludeListIds: ["l9"] };
    expect(await freeze({ ...base, segmentId: "pro", audience: fixed }, [pro])).toEqual({
      audience: fixed,
      writes: 0,
    });
  });

  it("takes a segment deleted since the send as closed: included, nobody; excluded, everybody", async () => {
    const included = (await freeze({ ...base, segmentId: "gone" }, [])).audience;
    expect(included?.include?.version).toBe(0);
    expect([inAudience(included, someone("pro")), inAudience(included, someone("free"))]).toEqual([
      false,
      false,
    ]);
    expect(inAudience(included, { attributes: {}, status: "unsubscribed" })).toBe(false);

    const excluded = (await freeze({ ...base, excludeSegmentIds: ["gone"] }, [])).audience;
    expect([inAudience(excluded, someone("pro")), inAudience(excluded, someone("free"))]).toEqual([
      false,
      false,
    ]);

    const both = (await freeze({ ...base, segmentId: "pro", excludeSegmentIds: ["gone"] }, [pro])).audience;
    expect(inAudience(both, someone("pro"))).toBe(false);
  });
});
