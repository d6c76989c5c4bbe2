import { describe, expect, it } from "vitest";
import { TokenBucket } from "../../lambdas/domain/token-bucket.ts";

/** A clock that only moves when the bucket sleeps, so the pacing is checked exactly. */
function virtualClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe("TokenBucket", () => {
  it("paces takers at the rate, however many wait at once", async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(10, 1, clock.now, clock.sleep);
    await Promise.all(Array.from({ length: 51 }, () => bucket.take()));
    // The first token is there at once; the next 50 need 5 seconds at 10/s.
    expect(clock.now()).toBeGreaterThanOrEqual(5000);
    expect(clock.now()).toBeLessThan(5200);
  });

  it("follows a rate change", async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(100, 1, clock.now, clock.sleep);
    await bucket.take();
    bucket.setRate(2);
    await bucket.take();
    await bucket.take();
    expect(clock.now()).toBeGreaterThanOrEqual(1000);
    expect(bucket.currentRate).toBe(2);
  });
});
