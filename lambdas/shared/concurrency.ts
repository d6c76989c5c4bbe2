import PQueue from "p-queue";

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * On the first rejection no new call starts, and the returned promise rejects with that error only
 * once the calls already in flight have settled: nothing keeps working (sending, writing) after
 * the caller has moved on, or after the Lambda answered and its environment was frozen.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(workers);
  if (failure) throw failure.error;
  return results;
}

/**
 * Slots shared by concurrent callers, each served in turn: of the items waiting for a slot, an
 * earlier turn's start before a later turn's, and a turn's items in their order. A later turn that
 * asks while slots are free takes them at once (nothing of an earlier turn is waiting yet). With one
 * turn at a time it is {@link mapLimit}; per turn, a failure likewise starts nothing more of that
 * turn, though its items already queued still take a slot, each in turn, to be dropped.
 */
export class OrderedSlots {
  private readonly queue: PQueue;
  private turns = 0;

  constructor(concurrency: number) {
    this.queue = new PQueue({ concurrency });
  }

  /** Takes a place in line now (before any await, so that places follow the callers' order). */
  turn(): { map<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> } {
    // p-queue runs higher priorities first, and equal ones in the order they were added.
    const priority = -this.turns++;
    return { map: (items, fn) => this.map(priority, items, fn) };
  }

  private async map<T, R>(
    priority: number,
    items: readonly T[],
    fn: (item: T, index: number) => Promise<R>,
  ): Promise<R[]> {
    const results = new Array<R>(items.length);
    let failure: { error: unknown } | undefined;
    await Promise.all(
      items.map((item, index) =>
        this.queue.add(
          async () => {
            if (failure) return;
            try {
              results[index] = await fn(item, index);
            } catch (error) {
              failure ??= { error };
            }
          },
          { priority },
        ),
      ),
    );
    if (failure) throw failure.error;
    return results;
  }
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether `promise` settles within `ms`: true when it resolves in time, false when the time runs
 * out first (it goes on, unwatched); a rejection in time rejects. The timer never keeps the
 * process alive.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
