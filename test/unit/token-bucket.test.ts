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

  it("keeps the rate when its timers fire late: the lateness counts towards the next token", async () => {
    let now = 0;
    // Every sleep ends 8 ms late, as timers do on a busy event loop (20/s: a token each 50 ms).
    const bucket = new TokenBucket(
      20,
      1,
      () => now,
      async (ms) => {
        now += ms + 8;
      },
    );
    await Promise.all(Array.from({ length: 201 }, () => bucket.take()));
    // 200 tokens after the first: 10 s at 20/s, not 11.6 s.
    expect(now).toBeGreaterThanOrEqual(10_000);
    expect(now).toBeLessThan(10_200);
  });

  it("keeps a token handed back while a taker waits: the next taker has it at once", async () => {
    let now = 0;
    let wake: (() => void) | undefined;
    const bucket = new TokenBucket(
      10,
      1,
      () => now,
      (ms) =>
        new Promise<void>((resolve) => {
          wake = () => {
            now += ms;
            resolve();
          };
        }),
    );
    await bucket.take();
    const waiting = bucket.take();
    for (let i = 0; i < 20 && !wake; i++) await Promise.resolve();
    expect(wake).toBeDefined();
    bucket.giveBack();
    wake?.();
    await waiting;
    expect(await bucket.takeBefore(now)).toBe(true);
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

  it("gives up at once, taking nothing, when the token would come after the caller's deadline", async () => {
    const clock = virtualClock();
    const bucket = new TokenBucket(1, 1, clock.now, clock.sleep);
    expect(await bucket.takeBefore(500)).toBe(true);
    // The next token is 1 s away: not by 500 ms, and waiting for it would be in vain.
    expect(await bucket.takeBefore(500)).toBe(false);
    expect(clock.now()).toBe(0);
    expect(await bucket.takeBefore(1_000)).toBe(true);
    expect(clock.now()).toBe(1_000);
    bucket.giveBack();
    expect(await bucket.takeBefore(1_000)).toBe(true);
    expect(clock.now()).toBe(1_000);
  });
});
