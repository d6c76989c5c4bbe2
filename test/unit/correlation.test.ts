import { describe, expect, it } from "vitest";
import {
  type Correlation,
  correlate,
  correlation,
  withCorrelation,
} from "../../lambdas/shared/correlation.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("correlation ids", () => {
  it("gives each concurrently handled record its own keys, through every await", async () => {
    const seen: Correlation[] = [];
    const handle = (messageId: string, campaignId: string) =>
      withCorrelation({ messageId }, async () => {
        await tick();
        correlate({ campaignId });
        await tick();
        // As a callback deep in a call (an SES event) would log it.
        await Promise.resolve().then(() => seen.push(correlation()));
      });
    await Promise.all([handle("m1", "c1"), handle("m2", "c2"), handle("m3", "c1")]);
    expect(seen.sort((a, b) => String(a.messageId).localeCompare(String(b.messageId)))).toEqual([
      { messageId: "m1", campaignId: "c1" },
      { messageId: "m2", campaignId: "c2" },
      { messageId: "m3", campaignId: "c1" },
    ]);
    expect(correlation()).toEqual({});
  });
});
