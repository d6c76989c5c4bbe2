import { describe, expect, it } from "vitest";
import { encodeEngagement } from "../../lambdas/domain/engagement.ts";
import { FOLLOW_UP_AUDIENCES, type FollowUpAudience, inFollowUp } from "../../lambdas/domain/follow-up.ts";
import { type EngagementRecord, inAudience } from "../../lambdas/domain/segment.ts";

const SENT = "2026-05-01T10:00:00.000Z";
const later = (minutes: number) => new Date(Date.parse(SENT) + minutes * 60_000).toISOString();
const open = (minutes: number, machineAgent = false) =>
  encodeEngagement({ kind: "open", at: later(minutes), machineAgent });
const click = (minutes: number, link: string, machineAgent = false) =>
  encodeEngagement({ kind: "click", at: later(minutes), link, machineAgent });

/** One ledger record of campaign P per kind of recipient. */
const RECORDS: Record<string, EngagementRecord> = {
  failed: { campaignId: "P", status: "failed" },
  bounced: { campaignId: "P", status: "sent", sentAt: SENT },
  cancelled: { campaignId: "P", status: "cancelled" },
  suppressed: { campaignId: "P", status: "suppressed" },
  unopened: { campaignId: "P", status: "sent", sentAt: SENT, deliveredAt: later(1) },
  proxied: {
    campaignId: "P",
    status: "sent",
    sentAt: SENT,
    deliveredAt: later(1),
    engagement: [open(1, true)],
  },
  scanned: {
    campaignId: "P",
    status: "sent",
    sentAt: SENT,
    deliveredAt: later(0),
    // a click 5 s after the send: a link scanner
    engagement: [
      encodeEngagement({
        kind: "click",
        at: new Date(Date.parse(SENT) + 5_000).toISOString(),
        link: "https://x.test/a",
        machineAgent: false,
      }),
    ],
  },
  opened: { campaignId: "P", status: "sent", sentAt: SENT, deliveredAt: later(1), engagement: [open(30)] },
  clickedA: {
    campaignId: "P",
    status: "sent",
    sentAt: SENT,
    deliveredAt: later(1),
    engagement: [open(30), click(31, "https://x.test/a")],
  },
  clickedB: {
    campaignId: "P",
    status: "sent",
    sentAt: SENT,
    deliveredAt: later(1),
    engagement: [click(40, "https://x.test/b")],
  },
  // A record from before opens and clicks were kept one by one: its first open counts.
  older: { campaignId: "P", status: "sent", deliveredAt: later(1), openedAt: later(20) },
};

const who = (audience: FollowUpAudience, link?: string) =>
  Object.entries(RECORDS)
    .filter(([, record]) =>
      inFollowUp({ campaignId: "P", audience, ...(link ? { link } : {}) }, [
        { campaignId: "Q", status: "failed" },
        record,
      ]),
    )
    .map(([name]) => name);

describe("follow-ups from the ledger", () => {
  it("choose each audience's recipients; machines' opens and clicks are not people's", () => {
    expect(who("failed")).toEqual(["failed"]);
    expect(who("not_delivered")).toEqual(["failed", "bounced", "cancelled"]);
    expect(who("not_opened")).toEqual(["unopened", "proxied", "scanned"]);
    expect(who("not_clicked")).toEqual(["unopened", "proxied", "scanned", "opened", "older"]);
    expect(who("clicked")).toEqual(["clickedA", "clickedB"]);
    expect(who("clicked", "https://x.test/a")).toEqual(["clickedA"]);
    expect(who("not_clicked", "https://x.test/a")).toEqual([
      "unopened",
      "proxied",
      "scanned",
      "opened",
      "clickedB",
      "older",
    ]);
  });

  it("leave out an address with no record of the campaign, whatever the audience", () => {
    for (const audience of FOLLOW_UP_AUDIENCES)
      expect(inFollowUp({ campaignId: "P", audience }, [{ campaignId: "Q", status: "failed" }])).toBe(false);
  });

  it("apply through the campaign's audience with its segments", () => {
    const audience = {
      followUp: { campaignId: "P", audience: "failed" as const },
      include: { id: "s", version: 1, rule: { attribute: "plan", op: "eq" as const, value: "pro" } },
      exclude: [],
      excludeListIds: [],
    };
    const subject = (plan: string, record: EngagementRecord) => ({
      attributes: { plan },
      status: "subscribed",
      engagement: [record],
    });
    expect(inAudience(audience, subject("pro", RECORDS.failed as EngagementRecord))).toBe(true);
    expect(inAudience(audience, subject("free", RECORDS.failed as EngagementRecord))).toBe(false);
    expect(inAudience(audience, subject("pro", RECORDS.unopened as EngagementRecord))).toBe(false);
  });
});
