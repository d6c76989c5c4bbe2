/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. `take()` resolves when a token is
 * available, so callers are paced at the rate however many wait concurrently.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private rate: number,
    private readonly burst: number = Math.max(1, rate),
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    /** Tokens at the start (by default one: no burst before the rate is known to be right). */
    initialTokens: number = Math.min(1, burst),
  ) {
    this.tokens = Math.min(initialTokens, burst);
    this.last = now();
  }

  get currentRate(): number {
    return this.rate;
  }

  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
  }

  /** Takes a token if one is there: 0; else the milliseconds until one will be (nothing taken). */
  tryTake(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  async take(): Promise<void> {
    await this.takeBefore(Number.POSITIVE_INFINITY);
  }

  /**
   * Waits its turn for a token, unless the token would come after `until` (epoch ms): then it
   * resolves false at once and takes nothing, so a caller with a deadline never waits in vain.
   */
  takeBefore(until: number): Promise<boolean> {
    const turn = this.queue.then(() => this.waitForToken(until));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Puts back a token taken but not used (what it paid for did not happen). */
  giveBack(): void {
    this.refill();
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  private async waitForToken(until: number): Promise<boolean> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return true;
      }
      const dueIn = ((1 - this.tokens) / this.rate) * 1000;
      const waitMs = Math.ceil(dueIn);
      if (this.now() + waitMs > until) return false;
      const due = this.now() + dueIn;
      await this.sleep(waitMs);
      const late = this.now() - due;
      if (late < 0) continue;
      // Woken late (a busy event loop's timers fire late): the token was due at `due`, and the time
      // since counts towards the next one, up to one token, as a timetable kept would. A bucket that
      // refilled from the wake, capped at one token, would lose every wake's lateness: a few ms of
      // each 40 ms at 25/s is a tenth of the rate.
      this.tokens = Math.min(1, (late / 1000) * this.rate);
      this.last = this.now();
      return true;
    }
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }
}
