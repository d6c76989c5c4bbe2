import { sleep } from "./concurrency.ts";

/**
 * The one retry policy for the part of a batch call that a service left undone (DynamoDB's
 * `UnprocessedKeys` / `UnprocessedItems`, SQS's `Failed` entries): retry only what is left, with
 * exponential backoff and full jitter, and fail loudly when it is still left after the last try.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
 */
export interface RetryPolicy {
  /** Calls in a row that may leave everything as it was before the caller gives up. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly capMs: number;
}

const LEFTOVER_RETRY: RetryPolicy = { attempts: 8, baseMs: 50, capMs: 2_000 };

/** What a batch call still had not done after the last attempt: the caller's request fails. */
export class UnprocessedItemsError extends Error {
  override readonly name = "UnprocessedItemsError";
  constructor(
    what: string,
    readonly left: number,
    attempts: number,
  ) {
    super(`${what}: ${left} item(s) still unprocessed after ${attempts} attempts in a row that did nothing`);
  }
}

/**
 * Runs `attempt` on `items`, then again on whatever it returns as left over, until nothing is left.
 * A call that gets some of it done resets the count: a large batch under throttling gets through
 * a part at a time. Throws UnprocessedItemsError after `policy.attempts` calls in a row that got
 * nothing done.
 */
export async function untilProcessed<T>(
  what: string,
  items: readonly T[],
  attempt: (pending: readonly T[]) => Promise<readonly T[]>,
  policy: RetryPolicy = LEFTOVER_RETRY,
  random: () => number = Math.random,
): Promise<void> {
  let pending = items;
  let idle = 0;
  for (let call = 0; pending.length > 0; call++) {
    if (call > 0) await sleep(random() * Math.min(policy.capMs, policy.baseMs * 2 ** idle));
    const left = await attempt(pending);
    idle = left.length < pending.length ? 0 : idle + 1;
    if (idle >= policy.attempts) throw new UnprocessedItemsError(what, left.length, idle);
    pending = left;
  }
}
