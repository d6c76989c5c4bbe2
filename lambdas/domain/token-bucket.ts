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
      const waitMs = Math.ceil(((1 - this.tokens) / this.rate) * 1000);
      if (this.now() + waitMs > until) return false;
      await this.sleep(waitMs);
      // Woken, maybe late (a busy event loop's timers fire late). The refill since the last one is
      // counted whole and the token taken from it: what is left over counts towards the next token,
      // up to a full bucket, as a timetable kept would. Capped before the take, a bucket of one token
      // lost every wake's lateness: a few ms of each 40 ms at 25/s is a tenth of the rate.
      const t = this.now();
      const available = this.tokens + ((t - this.last) / 1000) * this.rate;
      this.last = t;
      if (available >= 1) {
        this.tokens = Math.min(this.burst, available - 1);
        return true;
      }
      this.tokens = available;
    }
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }
}
