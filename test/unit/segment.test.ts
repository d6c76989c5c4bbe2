import { describe, expect, it } from "vitest";
import { type SegmentRule, segmentRuleSchema } from "../../lambdas/contracts/segment-rule.ts";
import { encodeEngagement } from "../../lambdas/domain/engagement.ts";
import { engagementNeeds, matches, type SegmentSubject } from "../../lambdas/domain/segment.ts";

const subject = (
  attributes: SegmentSubject["attributes"],
  status = "subscribed",
  createdAt = "2026-03-01T00:00:00Z",
) => ({
  attributes,
  status,
  createdAt,
});

/** The first issue's path and message, as the API's 400 names them. */
function invalid(rule: unknown) {
  const result = segmentRuleSchema.safeParse(rule);
  if (result.success) throw new Error("accepted");
  const issue = result.error.issues[0];
  return { path: issue?.path.join("."), message: issue?.message };
}

describe("the segment language", () => {
  it("accepts nested groups, negation and every kind of test", () => {
    const rule = {
      all: [
        { attribute: "plan", op: "eq", value: "pro" },
        { any: [{ status: "subscribed" }, { not: { attribute: "trial", op: "exists" } }] },
        { subscribedAt: { after: "2026-01-01" } },
        { attribute: "signup", op: "before", value: "2026-06-01" },
      ],
    };
    expect(segmentRuleSchema.parse(rule)).toEqual(rule);
  });

  it("names the bad node of an invalid tree", () => {
    expect(
      invalid({ all: [{ status: "subscribed" }, { attribute: "plan", op: "like", value: "x" }] }).path,
    ).toBe("all.1.op");
    expect(invalid({ any: [{ all: [{ attribute: "plan", op: "eq" }] }] })).toEqual({
      path: "any.0.all.0.value",
      message: "eq needs a value",
    });
    expect(invalid({ not: { wat: 1 } })).toMatchObject({ path: "not" });
    expect(invalid({ all: [] }).path).toBe("all");
    expect(invalid({ attribute: "n", op: "exists", value: 1 }).path).toBe("value");
    expect(invalid({ subscribedAt: {} }).path).toBe("subscribedAt");
    expect(invalid({ subscribedAt: { after: "soon" } }).path).toBe("subscribedAt.after");
    expect(invalid({ status: "subscribed", extra: true }).message).toMatch(/extra/);
    expect(invalid("all").message).toMatch(/one of all, any, not/);
  });

  it("refuses a tree deeper than 8 levels", () => {
    let rule: unknown = { status: "subscribed" };
    for (let i = 0; i < 8; i++) rule = { not: rule };
    expect(invalid(rule).message).toMatch(/at most 8 levels/);
  });
});

describe("evaluating a segment", () => {
  const pro = subject({ plan: "pro", seats: 12, city: "Lyon", renews: "2026-09-01" });
  const free = subject({ plan: "free", seats: "3" }, "subscribed", "2025-12-01T00:00:00Z");
  const check = (rule: SegmentRule) => [matches(rule, pro), matches(rule, free)];

  it("compares attributes by their type, numbers written as text as numbers", () => {
    expect(check({ attribute: "plan", op: "eq", value: "pro" })).toEqual([true, false]);
    expect(check({ attribute: "plan", op: "ne", value: "pro" })).toEqual([false, true]);
    expect(check({ attribute: "seats", op: "gt", value: 5 })).toEqual([true, false]);
    expect(check({ attribute: "seats", op: "eq", value: 3 })).toEqual([false, true]);
    expect(check({ attribute: "seats", op: "lte", value: "3" })).toEqual([false, true]);
    expect(check({ attribute: "city", op: "contains", value: "ly" })).toEqual([true, false]);
    expect(check({ attribute: "city", op: "exists" })).toEqual([true, false]);
    // Absent: only `ne` holds.
    expect(check({ attribute: "city", op: "ne", value: "Paris" })).toEqual([true, true]);
    expect(check({ attribute: "renews", op: "after", value: "2026-08-01" })).toEqual([true, false]);
    expect(check({ attribute: "renews", op: "before", value: "2026-08-01" })).toEqual([false, false]);
  });

  it("combines tests, and reads the status and the date the address joined", () => {
    expect(check({ subscribedAt: { after: "2026-01-01" } })).toEqual([true, false]);
    expect(check({ subscribedAt: { before: "2026-01-01" } })).toEqual([false, true]);
    expect(check({ status: "subscribed" })).toEqual([true, true]);
    expect(matches({ status: "subscribed" }, subject({}, "unsubscribed"))).toBe(false);
    expect(
      check({
        any: [
          { attribute: "plan", op: "eq", value: "pro" },
          { attribute: "seats", op: "eq", value: 3 },
        ],
      }),
    ).toEqual([true, true]);
    expect(
      check({ all: [{ status: "subscribed" }, { not: { attribute: "plan", op: "eq", value: "pro" } }] }),
    ).toEqual([false, true]);
  });
});

describe("engagement tests", () => {
  const now = Date.parse("2026-06-30T12:00:00Z");
  const person: SegmentSubject = {
    attributes: {},
    status: "subscribed",
    engagement: [
      { campaignId: "c1", deliveredAt: "2026-06-01T00:00:00Z", openedAt: "2026-06-02T00:00:00Z" },
      { campaignId: "c2", deliveredAt: "2026-06-29T00:00:00Z", clickedAt: "2026-06-29T01:00:00Z" },
      {
        campaignId: "c3",
        sentAt: "2026-06-20T00:00:00.000Z",
        deliveredAt: "2026-06-20T00:00:01.000Z",
        // Only machines: a privacy proxy's open, and a scanner's click 5 s after the send.
        openedAt: "2026-06-20T00:00:02.000Z",
        clickedAt: "2026-06-20T00:00:05.000Z",
        engagement: [
          encodeEngagement({ kind: "open", at: "2026-06-20T00:00:02.000Z", machineAgent: true }),
          encodeEngagement({
            kind: "click",
            at: "2026-06-20T00:00:05.000Z",
            machineAgent: false,
            link: "https://x.example/",
          }),
        ],
      },
    ],
  };
  const test = (rule: SegmentRule) => matches(rule, person, now);

  it("match what the ledger recorded, for one campaign or any, within the last days", () => {
    expect(test({ engagement: "opened", campaignId: "c1" })).toBe(true);
    // A click proves an open.
    expect(test({ engagement: "opened", campaignId: "c2" })).toBe(true);
    expect(test({ engagement: "clicked" })).toBe(true);
    expect(test({ engagement: "clicked", campaignId: "c1" })).toBe(false);
    expect(test({ engagement: "opened", withinDays: 7 })).toBe(true);
    expect(test({ engagement: "opened", withinDays: 1 })).toBe(false);
    expect(test({ engagement: "opened", withinDays: 30 })).toBe(true);
    // Machines' opens and clicks are not people's.
    expect(test({ engagement: "opened", campaignId: "c3" })).toBe(false);
    expect(test({ engagement: "clicked", campaignId: "c3" })).toBe(false);
    expect(test({ engagement: "received", campaignId: "c3" })).toBe(true);
    expect(test({ engagement: "received", campaignId: "c2", withinDays: 2 })).toBe(true);
    expect(test({ not: { engagement: "clicked", campaignId: "c1" } })).toBe(true);
    // Nothing read is nothing done.
    expect(matches({ engagement: "received" }, { attributes: {}, status: "subscribed" }, now)).toBe(false);
  });

  it("say which ledger records an audience needs, and none without engagement tests", () => {
    const frozen = (rule: SegmentRule) => ({ id: "s", version: 1, rule });
    expect(engagementNeeds({ exclude: [], excludeListIds: [] })).toBeUndefined();
    expect(
      engagementNeeds({
        include: frozen({ all: [{ engagement: "opened", campaignId: "c1" }, { status: "subscribed" }] }),
        exclude: [frozen({ not: { engagement: "clicked", withinDays: 14 } })],
        excludeListIds: [],
      }),
    ).toEqual({ campaignIds: new Set(["c1"]), anyWithinDays: 14 });
    expect(
      engagementNeeds({ include: frozen({ engagement: "received" }), exclude: [], excludeListIds: [] }),
    ).toEqual({ campaignIds: new Set(), anyWithinDays: Number.POSITIVE_INFINITY });
  });

  it("refuse a bad node by its path", () => {
    const parsed = segmentRuleSchema.safeParse({
      all: [{ engagement: "read" }, { engagement: "opened", campaignId: "x y" }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual([
      "all.0.engagement",
      "all.1.campaignId",
    ]);
  });
});
