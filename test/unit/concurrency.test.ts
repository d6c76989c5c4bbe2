import { describe, expect, it } from "vitest";
import { mapLimit, OrderedSlots, within } from "../../lambdas/shared/concurrency.ts";

/** A promise with its resolve and reject handed out, so the test decides when each task ends. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("mapLimit", () => {
  it("keeps the input order and never runs more than the limit at once", async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, n));
      inFlight--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it("starts no task after one rejects, and rejects only once the tasks in flight have settled", async () => {
    const tasks = Array.from({ length: 10 }, () => deferred<number>());
    const started: number[] = [];
    let settled = false;
    const run = mapLimit(tasks, 3, (task, index) => {
      started.push(index);
      return task.promise;
    });
    const outcome = run.then(
      () => "resolved",
      (error: Error) => error.message,
    );
    void outcome.finally(() => (settled = true));
    await tick();
    expect(started).toEqual([0, 1, 2]);

    tasks[0]?.reject(new Error("first"));
    await tick();
    tasks[2]?.resolve(2);
    await tick();
    // A worker freed after the failure starts nothing new, and the call waits for task 1.
    expect(started).toEqual([0, 1, 2]);
    expect(settled).toBe(false);

    tasks[1]?.reject(new Error("second"));
    expect(await outcome).toBe("first");
    expect(started).toEqual([0, 1, 2]);
  });
});

describe("within", () => {
  it("is true when the promise resolves in time, false when the time runs out first", async () => {
    expect(await within(Promise.resolve("answer"), 50)).toBe(true);
    const late = deferred<void>();
    const started = Date.now();
    expect(await within(late.promise, 30)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    late.resolve();
  });

  it("rejects with the promise's error when it fails in time, and ignores a failure after the time ran out", async () => {
    await expect(within(Promise.reject(new Error("refused")), 50)).rejects.toThrow("refused");
    const late = deferred<void>();
    expect(await within(late.promise, 10)).toBe(false);
    late.reject(new Error("too late"));
    await tick();
  });
});

describe("OrderedSlots", () => {
  it("starts an earlier turn's waiting items before a later turn's, within the shared limit", async () => {
    const slots = new OrderedSlots(2);
    const first = slots.turn();
    const second = slots.turn();
    const started: string[] = [];
    let inFlight = 0;
    let most = 0;
    // Every item holds its slot until both turns have asked.
    const asked = deferred<void>();
    const run = (name: string) => async () => {
      started.push(name);
      inFlight++;
      most = Math.max(most, inFlight);
      await asked.promise;
      await tick();
      inFlight--;
      return name;
    };
    // The later turn asks first: its place in line was taken when turn() was called.
    const later = second.map(["b1", "b2", "b3", "b4"], (name) => run(name)());
    await tick();
    const earlier = first.map(["a1", "a2", "a3"], (name) => run(name)());
    asked.resolve();
    expect(await Promise.all([earlier, later])).toEqual([
      ["a1", "a2", "a3"],
      ["b1", "b2", "b3", "b4"],
    ]);
    // b1 and b2 took the free slots at once; of those waiting, the earlier turn's go first.
    expect(started).toEqual(["b1", "b2", "a1", "a2", "a3", "b3", "b4"]);
    expect(most).toBe(2);
  });

  it("starts no item of a turn after one failed, and rejects once those in flight settled", async () => {
    const slots = new OrderedSlots(1);
    const started: number[] = [];
    const fails = deferred<void>();
    const result = slots.turn().map([0, 1, 2], async (n) => {
      started.push(n);
      if (n === 0) await fails.promise;
    });
    const other = slots.turn().map([9], async (n) => n);
    fails.reject(new Error("boom"));
    await expect(result).rejects.toThrow("boom");
    expect(started).toEqual([0]);
    // Another turn is not held back by it.
    expect(await other).toEqual([9]);
  });
});
