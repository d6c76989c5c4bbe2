/**
 * A circuit breaker per SES region. Closed: traffic flows. After `failureThreshold` consecutive
 * region-class failures it opens: the region is skipped (traffic fails over). After `cooldownMs`
 * it lets one probe through (half-open); the probe's success closes it, its failure re-opens it.
 * https://martinfowler.com/bliki/CircuitBreaker.html
 */
export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly now?: () => number;
  readonly onChange?: (from: BreakerState, to: BreakerState) => void;
}

export class CircuitBreaker {
  private state: BreakerState = "closed";
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get current(): BreakerState {
    return this.state;
  }

  /** Whether allow() would let a call through now, without counting one. */
  get available(): boolean {
    if (this.state === "open") return this.now() - this.openedAt >= this.options.cooldownMs;
    return this.state === "closed" || !this.probing;
  }

  /** Whether a call may go to this region now. In half-open state only one probe at a time. */
  allow(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (this.now() - this.openedAt < this.options.cooldownMs) return false;
      this.move("half-open");
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.state !== "closed") this.move("closed");
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (
      this.state === "half-open" ||
      (this.state === "closed" && this.failures >= this.options.failureThreshold)
    ) {
      this.openedAt = this.now();
      this.move("open");
    }
  }

  /** A call that ended without telling anything about the region's health (throttled, say). */
  release(): void {
    this.probing = false;
  }

  private move(to: BreakerState): void {
    const from = this.state;
    this.state = to;
    this.options.onChange?.(from, to);
  }
}
