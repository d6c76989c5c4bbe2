import { TokenBucket } from "./token-bucket.ts";

/**
 * Paces sends to one SES region: a token bucket whose rate starts at this container's share of the
 * region's limit (`min(GetAccount MaxSendRate, configured cap) / concurrency`) and adapts when SES
 * answers 429 anyway (other senders may share the account): multiplicative decrease on throttling,
 * additive increase back towards the limit while sends succeed (AIMD, as TCP congestion control).
 */
export interface RateControllerOptions {
  readonly maxRate: number;
  readonly decreaseFactor?: number;
  /** Share of `maxRate` added back per second without throttling. */
  readonly increasePerSecond?: number;
  readonly minRate?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class RateController {
  readonly bucket: TokenBucket;
  private maxRate: number;
  private lastDecrease = 0;
  private lastIncrease: number;
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

  onThrottled(): void {
    const t = this.now();
    // One decrease per second: a burst of 429s from one overshoot is one signal, not many.
    if (t - this.lastDecrease < 1000) return;
    this.lastDecrease = t;
    this.lastIncrease = t;
    const minRate = this.options.minRate ?? Math.max(0.2, this.maxRate / 100);
    this.bucket.setRate(Math.max(minRate, this.bucket.currentRate * (this.options.decreaseFactor ?? 0.7)));
  }

  onSuccess(): void {
    const t = this.now();
    const elapsed = (t - this.lastIncrease) / 1000;
    if (elapsed < 1 || this.bucket.currentRate >= this.maxRate) return;
    this.lastIncrease = t;
    const step = this.maxRate * (this.options.increasePerSecond ?? 0.05) * elapsed;
    this.bucket.setRate(Math.min(this.maxRate, this.bucket.currentRate + step));
  }
}
