import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that start first, in this order, whatever the default order (by file size, or by the last
 * run's times when a cache is there). The chaos files run two at a time and mostly wait on
 * production timings (a 121 s visibility timeout, a 90 s lease): the longest start first, so that
 * no long file is left running alone at the end. Each file's tests, measured two files at a time on
 * 2 cores: regions about 410 s, chaos and crashes about 250 s each, manual takeover about 160 s; in
 * this order one worker runs regions then manual takeover (about 570 s), the other the rest (500 s).
 */
const START_FIRST = [
  "test/chaos/regions.test.ts",
  "test/chaos/crashes.test.ts",
  "test/chaos/chaos.test.ts",
  "test/chaos/manual-takeover.test.ts",
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const i = START_FIRST.findIndex((name) => file.moduleId.endsWith(name));
      return i === -1 ? START_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    // The AWS SDK warns about Node 20 on every client; the handlers run on Node 20 locally by design.
    // Tests that import a handler must not trace even where the host sets AWS_EXECUTION_ENV (CI on ECS).
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_TRACE_ENABLED: "false",
    },
    sequence: { sequencer: LongestFirst },
    projects: [
      // Two workers: Vitest's default on a 2-core machine is one.
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], maxWorkers: 2 } },
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          maxWorkers: 2,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Each file runs its own runtime; two at a time on a 2-core machine.
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Each file runs its own runtime (its own emulators, ports and logs), two side by side:
          // measured on 2 cores, four at once slowed every scenario about twofold and broke the
          // cross-region timings (k, l, m, n); two at a time pass them, and take 9 minutes where
          // the cross-region file alone after the others took 14.
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
    ],
  },
});
