import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../lambdas/domain/circuit-breaker.ts";
import { HOLD, RateController, throttledRetrySeconds } from "../../lambdas/domain/rate-controller.ts";

describe("CircuitBreaker", () => {
  it("opens after consecutive failures, probes once after the cool-down, and closes on success", () => {
    let now = 0;
    const changes: string[] = [];
    const breaker = new CircuitBreaker({
      failureThreshold: 3,
      cooldownMs: 1000,
      now: () => now,
      onChange: (from, to) => changes.push(`${from}->${to}`),
    });
    breaker.failure();
    breaker.failure();
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.current).toBe("open");
    expect(breaker.allow()).toBe(false);
    now = 1000;
    expect(breaker.allow()).toBe(true); // the probe
    expect(breaker.allow()).toBe(false); // only one at a time
    breaker.success();
    expect(breaker.current).toBe("closed");
    expect(changes).toEqual(["closed->open", "open->half-open", "half-open->closed"]);
  });

  it("re-opens when the probe fails, and a success resets the count", () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 500, now: () => now });
    breaker.failure();
    breaker.success();
    breaker.failure();
    expect(breaker.current).toBe("closed");
    breaker.failure();
    now = 600;
    expect(breaker.allow()).toBe(true);
    breaker.failure();
    expect(breaker.current).toBe("open");
    expect(breaker.allow()).toBe(false);
  });
});

describe("RateController", () => {
  it("measures what got through since the first success when that is under a second ago", () => {
    let now = 0;
    const rate = new RateController({ maxRate: 100, now: () => now });
    // 10 successes in the first 250 ms: 40/s got through, not 10/s.
    for (let i = 0; i < 10; i++) {
      now += 25;
      rate.onSuccess();
    }
    rate.onThrottled();
    rate.onThrottled();
    expect(rate.rate).toBeCloseTo((0.95 * (10 * 1000)) / 225, 0);
  });

  it("starts slowly: half its limit, doubling every half second while sends succeed", () => {
    let now = 0;
    const rate = new RateController({ maxRate: 100, now: () => now });
    expect(rate.rate).toBe(50);
    now = 400;
    rate.onSuccess();
    expect(rate.rate).toBe(50);
    now = 600;
    rate.onSuccess();
    expect(rate.rate).toBe(100);
    now = 5_000;
    rate.onSuccess();
    expect(rate.rate).toBe(100);
  });

  it("drops just under the rate that got through, holds just under it, and probes above it only later", () => {
    let now = 8_000;
    const rate = new RateController({ maxRate: 100, now: () => now });
    rate.onSuccess(); // sending for a while already
    now = 10_000;
    // 40 sends went through in the last second, then SES says 429 (twice: one signal).
    for (let i = 0; i < 40; i++) {
      now += 25;
      rate.onSuccess();
    }
    rate.onThrottled();
    rate.onThrottled();
    expect(rate.ceiling?.rate).toBeCloseTo(40);
    expect(rate.rate).toBeCloseTo(38);
    // Creeps back to 97 % of the ceiling, and no further while the ceiling holds (5 s).
    for (let i = 0; i < 4; i++) {
      now += 1000;
      rate.onSuccess();
    }
    expect(rate.rate).toBeCloseTo(40 * HOLD);
    // Past the hold, the ceiling rises 2 % a second: capacity that came back is found again.
    for (let i = 0; i < 10; i++) {
      now += 1000;
      rate.onSuccess();
    }
    expect(rate.rate).toBeGreaterThan(40);
    expect(rate.rate).toBeLessThan(40 * 1.02 ** 10); // 2 % a second at most
  });

  it("halves when nothing got through, and starts a new container just under a ceiling learned before", () => {
    let now = 0;
    const rate = new RateController({ maxRate: 100, now: () => now });
    // A lone 429 is the quota's edge: nothing changes. A second within a second is a signal.
    rate.onThrottled();
    expect(rate.rate).toBe(50);
    now += 2000;
    rate.onThrottled();
    expect(rate.rate).toBe(50);
    now += 300;
    rate.onThrottled();
    expect(rate.rate).toBe(25);
    const next = new RateController({ maxRate: 100, learnedRate: 30, now: () => now });
    expect(next.rate).toBeCloseTo(30 * HOLD);
    now += 600;
    next.onSuccess();
    expect(next.rate).toBeCloseTo(30 * HOLD);
  });

  it("never exceeds a lower limit learned from SES", () => {
    const rate = new RateController({ maxRate: 50 });
    rate.setMaxRate(14);
    expect(rate.rate).toBe(14);
  });
});

describe("throttled retries", () => {
  it("come back after a second the first time, then back off while the same recipients keep being throttled", () => {
    expect([0, 1, 2, 3, 4, 10].map(throttledRetrySeconds)).toEqual([1, 2, 4, 8, 8, 8]);
  });
});
