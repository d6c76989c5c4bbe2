import { TokenBucket } from "../domain/token-bucket.ts";

/** Buckets kept per container; past this, the least recently added key starts over (full bucket). */
const MAX_KEYS = 10_000;

/**
 * A token bucket per API key id, per container: a first line against one client using up the
 * stage's throttle. Each container limits on its own, so a key gets at most `rate` × the number of
 * warm containers in a region (the stage and route throttles cap the total).
 */
export class KeyRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** 0 when the request may go on; else the whole seconds to wait (for `Retry-After`). */
  retryAfterSeconds(keyId: string): number {
    let bucket = this.buckets.get(keyId);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value as string);
      // Starts full: a key's first burst is allowed.
      bucket = new TokenBucket(this.rate, this.burst, this.now, undefined, this.burst);
      this.buckets.set(keyId, bucket);
    }
    const waitMs = bucket.tryTake();
    return waitMs === 0 ? 0 : Math.max(1, Math.ceil(waitMs / 1000));
  }
}
