import { TokenBucket } from "./token-bucket.ts";

/**
 * Paces sends to one SES region: a token bucket whose rate starts at this container's share of the
 * region's limit (`min(GetAccount MaxSendRate, configured cap) / concurrency`) and adapts when SES
 * answers 429 anyway (other senders may share the account, or the real limit is lower than the
 * quota says):
 * - on throttling, the rate drops to just under what this container actually got through in the
 *   last second (the share SES really grants it), or halves when nothing got through;
 * - while sends succeed, it creeps back up by 4 % a second (INCREASE_PER_SECOND), so an overshoot is
 *   rare and small.
 */
export interface RateControllerOptions {
  readonly maxRate: number;
  readonly minRate?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const DECREASE_INTERVAL_MS = 500;
const INCREASE_PER_SECOND = 0.04;

export class RateController {
  readonly bucket: TokenBucket;
  private maxRate: number;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private lastIncrease: number;
  /** Timestamps of the successful sends of the last second. */
  private readonly recent: number[] = [];
  private firstSuccess: number | undefined;
  private readonly now: () => number;

  constructor(private readonly options: RateControllerOptions) {
    this.now = options.now ?? Date.now;
    this.maxRate = options.maxRate;
    this.bucket = new TokenBucket(options.maxRate, 1, this.now, options.sleep);
    this.lastIncrease = this.now();
  }

  get rate(): number {
    return this.bucket.currentRate;
  }

  /** A new limit (GetAccount answered): never send faster than it. */
  setMaxRate(maxRate: number): void {
    this.maxRate = maxRate;
    if (this.bucket.currentRate > maxRate) this.bucket.setRate(maxRate);
  }

  take(): Promise<void> {
    return this.bucket.take();
  }

  /** A token if one comes by `until` (epoch ms); false, taking nothing, if not. */
  takeBefore(until: number): Promise<boolean> {
    return this.bucket.takeBefore(until);
  }

  giveBack(): void {
    this.bucket.giveBack();
  }

  onThrottled(): void {
    const t = this.now();
    // One decrease per half second: a burst of 429s from one overshoot is one signal, not many.
    if (t - this.lastDecrease < DECREASE_INTERVAL_MS) return;
    this.lastDecrease = t;
    this.lastIncrease = t;
    const achieved = this.achievedRate(t);
    const minRate = this.options.minRate ?? Math.max(0.2, this.maxRate / 100);
    const target =
      achieved > 0 ? Math.min(this.bucket.currentRate, achieved * 0.95) : this.bucket.currentRate / 2;
    this.bucket.setRate(Math.max(minRate, target));
  }

  onSuccess(): void {
    const t = this.now();
    this.firstSuccess ??= t;
    this.recent.push(t);
    if (this.recent.length > 4096) this.recent.splice(0, this.recent.length - 4096);
    const elapsed = (t - this.lastIncrease) / 1000;
    if (elapsed < 1 || this.bucket.currentRate >= this.maxRate) return;
    this.lastIncrease = t;
    const next = this.bucket.currentRate * (1 + INCREASE_PER_SECOND * elapsed);
    this.bucket.setRate(Math.min(this.maxRate, next));
  }

  /** Successful sends per second over the last second (or since the first success, if sooner). */
  private achievedRate(t: number): number {
    while (this.recent.length > 0 && (this.recent[0] as number) < t - 1000) this.recent.shift();
    if (this.recent.length === 0 || this.firstSuccess === undefined) return 0;
    const window = Math.min(1000, Math.max(100, t - this.firstSuccess));
    return (this.recent.length * 1000) / window;
  }
}
