import { describe, expect, it } from "vitest";
import { CAMPAIGN_STATUSES, type CampaignStatus } from "../../lambdas/domain/campaign.ts";
import { type CampaignAction, decide, sourcesOf, targetOf } from "../../lambdas/domain/campaign-lifecycle.ts";

/** Every allowed transition, written out by hand: the table the lifecycle must match exactly. */
const ALLOWED: Record<CampaignAction, [from: CampaignStatus[], to: CampaignStatus]> = {
  schedule: [["draft"], "scheduled"],
  start: [["draft", "scheduled"], "queued"],
  begin: [["queued"], "sending"],
  complete: [["sending"], "sent"],
  pause: [["queued", "sending"], "paused"],
  resume: [["paused"], "sending"],
  cancel: [["scheduled", "queued", "sending", "paused"], "cancelled"],
};

const ACTIONS = Object.keys(ALLOWED) as CampaignAction[];

describe("campaign lifecycle", () => {
  for (const action of ACTIONS) {
    const [from, to] = ALLOWED[action];
    for (const status of CAMPAIGN_STATUSES) {
      if (from.includes(status)) {
        it(`${action}: ${status} → ${to}`, () => {
          expect(decide(status, action)).toEqual({ kind: "apply", to });
        });
      } else if (status === to) {
        it(`${action}: ${status} is already there (repeating is harmless)`, () => {
          expect(decide(status, action)).toEqual({ kind: "already", status });
        });
      } else {
        it(`${action}: refused from ${status}`, () => {
          const decision = decide(status, action);
          expect(decision.kind).toBe("refused");
          expect(decision.kind === "refused" && decision.reason).toMatch(
            new RegExp(`^a ${status} campaign cannot be `),
          );
        });
      }
    }
  }

  it("gives stores the same sources and targets as decide", () => {
    for (const action of ACTIONS) {
      expect([...sourcesOf(action)].sort()).toEqual([...ALLOWED[action][0]].sort());
      expect(targetOf(action)).toBe(ALLOWED[action][1]);
    }
  });

  it("keeps sent and cancelled final: no action leaves them", () => {
    for (const status of ["sent", "cancelled"] as const)
      for (const action of ACTIONS) expect(decide(status, action).kind).not.toBe("apply");
  });

  it("answers API clients with the messages they know", () => {
    expect(decide("sent", "pause")).toEqual({ kind: "refused", reason: "a sent campaign cannot be paused" });
    expect(decide("queued", "resume")).toEqual({
      kind: "refused",
      reason: "a queued campaign cannot be resumed",
    });
    expect(decide("draft", "cancel")).toEqual({
      kind: "refused",
      reason: "a draft campaign cannot be cancelled",
    });
  });
});
