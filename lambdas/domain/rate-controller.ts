import { TokenBucket } from "./token-bucket.ts";

/**
 * Paces sends to one SES region: a token bucket whose rate is this container's share of the
 * region's limit (`min(GetAccount MaxSendRate, configured cap) / concurrency`), found and held
 * without bursts:
 * - slow start: a new controller starts at half its limit (or at a rate it is told was learned
 *   before) and doubles every half second while sends succeed, so that a wrong quota costs a few
 *   429s rather than a burst of them;
 * - on throttling, the rate that got through in the last second becomes the learned ceiling, and
 *   the rate drops just under it (or halves when nothing got through);
 * - then it holds: while sends succeed it creeps back up by 4 % a second (INCREASE_PER_SECOND), but
 *   only to HOLD × the ceiling; after HOLD_MS without a 429 the ceiling itself rises 2 % a second,
 *   so capacity that comes back is found again, slowly.
 */
export interface RateControllerOptions {
  readonly maxRate: number;
  readonly minRate?: number;
  /** A ceiling learned before (by another container, or before a restart): start just under it. */
  readonly learnedRate?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const DECREASE_INTERVAL_MS = 500;
const INCREASE_PER_SECOND = 0.04;
/** Slow start: the rate doubles this often until the limit or the first 429. */
const SLOW_START_STEP_MS = 500;
/** Held at this fraction of the learned ceiling. */
export const HOLD = 0.97;
/** A ceiling stands this long after its 429 before it is probed upwards. */
const HOLD_MS = 5_000;
const PROBE_PER_SECOND = 0.02;

export class RateController {
  readonly bucket: TokenBucket;
  private maxRate: number;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private lastThrottle = Number.NEGATIVE_INFINITY;
  private lastIncrease: number;
  /** The rate that got through when SES last said 429; undefined until it does. */
  private ceilingRate: number | undefined;
  private ceilingAt = Number.NEGATIVE_INFINITY;
  private slowStart: boolean;
  /** Timestamps of the successful sends of the last second. */
  private readonly recent: number[] = [];
  private firstSuccess: number | undefined;
  private readonly now: () => number;
  private slowDowns = 0;

  constructor(private readonly options: RateControllerOptions) {
    this.now = options.now ?? Date.now;
    this.maxRate = options.maxRate;
    this.ceilingRate = options.learnedRate;
    this.slowStart = options.learnedRate === undefined;
    const start = this.ceilingRate !== undefined ? this.held(this.ceilingRate) : options.maxRate / 2;
    this.bucket = new TokenBucket(start, 1, this.now, options.sleep);
    this.lastIncrease = this.now();
  }

  get rate(): number {
    return this.bucket.currentRate;
  }

  /** Counts the slow-downs that 429s caused: a token taken before the last one was paced too fast. */
  get generation(): number {
    return this.slowDowns;
  }

  /** The ceiling learned from the last 429 (as probed since), and when that 429 came; if any. */
  get ceiling(): { rate: number; at: number } | undefined {
    return this.ceilingRate === undefined ? undefined : { rate: this.ceilingRate, at: this.ceilingAt };
  }

  /** A new limit (GetAccount answered): never send faster than it. */
  setMaxRate(maxRate: number): void {
    this.maxRate = maxRate;
    if (this.bucket.currentRate > maxRate) this.bucket.setRate(maxRate);
  }

  /**
   * A new share of the region (the number of senders changed): the limit moves, and the rate with
   * it at once (the bucket holds one token, so a higher rate is no burst), held under the ceiling.
   */
  setShare(maxRate: number): void {
    this.maxRate = maxRate;
    if (this.slowStart) {
      if (this.bucket.currentRate > maxRate) this.bucket.setRate(maxRate);
      return;
    }
    const limit = this.ceilingRate === undefined ? maxRate : this.held(this.ceilingRate);
    this.bucket.setRate(Math.max(this.options.minRate ?? 0.2, limit));
  }

  /**
   * A ceiling learned elsewhere (the region's rate, shared by its senders) at `at` (epoch ms): hold
   * just under it, and probe above it only HOLD_MS after it was learned.
   */
  setCeiling(ceiling: number, at: number = this.now()): void {
    this.ceilingRate = ceiling;
    this.ceilingAt = at;
    this.slowStart = false;
    this.bucket.setRate(Math.max(this.options.minRate ?? 0.2, this.held(ceiling)));
  }

  take(): Promise<void> {
    return this.bucket.take();
  }

  /** A token if one comes by `until` (epoch ms); false, taking nothing, if not. */
  takeBefore(until: number): Promise<boolean> {
    return this.bucket.takeBefore(until);
  }

  /** A token now if there is one (0), else the milliseconds until there will be (nothing taken). */
  tryTake(): number {
    return this.bucket.tryTake();
  }

  giveBack(): void {
    this.bucket.giveBack();
  }

  onThrottled(): void {
    const t = this.now();
    // A lone 429 is the quota's edge (SES counts in windows of its own), not a wrong rate: only a
    // second one within a second is a signal.
    const lone = t - this.lastThrottle > 1000;
    this.lastThrottle = t;
    if (lone) return;
    // One decrease per half second: a burst of 429s from one overshoot is one signal, not many.
    if (t - this.lastDecrease < DECREASE_INTERVAL_MS) return;
    this.lastDecrease = t;
    this.lastIncrease = t;
    this.slowStart = false;
    const achieved = this.achievedRate(t);
    const minRate = this.options.minRate ?? Math.max(0.2, this.maxRate / 100);
    this.ceilingRate = Math.max(minRate, achieved > 0 ? achieved : this.bucket.currentRate / 2);
    this.ceilingAt = t;
    const target =
      achieved > 0 ? Math.min(this.bucket.currentRate, achieved * 0.95) : this.bucket.currentRate / 2;
    this.bucket.setRate(Math.max(minRate, target));
    this.slowDowns++;
  }

  onSuccess(): void {
    const t = this.now();
    this.firstSuccess ??= t;
    this.recent.push(t);
    if (this.recent.length > 4096) this.recent.splice(0, this.recent.length - 4096);
    const elapsedMs = t - this.lastIncrease;
    if (this.slowStart) {
      if (elapsedMs < SLOW_START_STEP_MS) return;
      this.lastIncrease = t;
      const next = Math.min(this.maxRate, this.bucket.currentRate * 2);
      if (next >= this.maxRate) this.slowStart = false;
      this.bucket.setRate(next);
      return;
    }
    if (elapsedMs < 1000) return;
    this.lastIncrease = t;
    const elapsed = elapsedMs / 1000;
    if (this.ceilingRate !== undefined && t - this.ceilingAt > HOLD_MS)
      this.ceilingRate *= 1 + PROBE_PER_SECOND * elapsed;
    const limit =
      this.ceilingRate === undefined ? this.maxRate : Math.min(this.maxRate, this.held(this.ceilingRate));
    if (this.bucket.currentRate >= limit) return;
    this.bucket.setRate(Math.min(limit, this.bucket.currentRate * (1 + INCREASE_PER_SECOND * elapsed)));
  }

  private held(ceiling: number): number {
    return Math.min(this.maxRate, ceiling * HOLD);
  }

  /** Successful sends per second over the last second (or since the first success, if sooner). */
  private achievedRate(t: number): number {
    while (this.recent.length > 0 && (this.recent[0] as number) < t - 1000) this.recent.shift();
    if (this.recent.length === 0 || this.firstSuccess === undefined) return 0;
    const window = Math.min(1000, Math.max(100, t - this.firstSuccess));
    return (this.recent.length * 1000) / window;
  }
}

/**
 * Seconds before throttled recipients are tried again, after `throttles` throttled tries in a row:
 * 1, 2, 4, then 8. The first retry is quick, so a run's last recipients do not wait on a lone 429;
 * recipients throttled again and again back off, so a region that stays over its quota is not
 * hammered with retries (each one a ledger claim and release, which also loads replication).
 */
export function throttledRetrySeconds(throttles: number): number {
  return Math.min(THROTTLED_RETRY_MAX_SECONDS, 2 ** Math.max(0, throttles));
}

const THROTTLED_RETRY_MAX_SECONDS = 8;
