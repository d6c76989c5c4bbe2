import { describe, expect, it } from "vitest";
import { keyBoundaries } from "../../lambdas/adapters/dynamo/key-ranges.ts";

/** How many of `keys` (sorted) fall in each range the boundaries make. */
function spread(keys: string[], boundaries: string[]): number[] {
  const counts = new Array(boundaries.length + 1).fill(0) as number[];
  for (const key of keys) {
    const range = boundaries.filter((b) => b <= key).length;
    counts[range] = (counts[range] ?? 0) + 1;
  }
  return counts;
}

describe("cutting a partition's keys into ranges", () => {
  it("cuts addresses spread over the alphabet into ranges of similar size, in order, inside the keys", () => {
    const keys = Array.from(
      { length: 26 * 40 },
      (_, i) => `SUB#${String.fromCharCode(97 + (i % 26))}${i}@example.com`,
    ).sort();
    const first = keys[0] as string;
    const last = keys.at(-1) as string;
    const boundaries = keyBoundaries(first, last, 8);
    expect(boundaries).toHaveLength(7);
    expect([...boundaries].sort()).toEqual(boundaries);
    expect(boundaries.every((b) => b > first && b <= last)).toBe(true);
    const counts = spread(keys, boundaries);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(keys.length);
    expect(Math.max(...counts)).toBeLessThan(keys.length / 4);
  });

  it("cuts numbered addresses with a common prefix by the digits after it", () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `SUB#reader-${i}@example.com`).sort();
    const counts = spread(keys, keyBoundaries(keys[0] as string, keys.at(-1) as string, 8));
    expect(counts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(7);
    expect(Math.max(...counts)).toBeLessThanOrEqual(2_300);
  });

  it("does not cut one key, or keys too close to tell apart", () => {
    expect(keyBoundaries("SUB#a@x", "SUB#a@x", 8)).toEqual([]);
    expect(keyBoundaries("SUB#a", `SUB#a${"\u0000".repeat(7)}b`, 8)).toEqual([]);
    expect(keyBoundaries("SUB#b", "SUB#a", 8)).toEqual([]);
  });
});
