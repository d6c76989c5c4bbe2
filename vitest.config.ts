import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The AWS SDK warns about Node 20 on every client; the handlers run on Node 20 locally by design.
    // Tests that import a handler must not trace even where the host sets AWS_EXECUTION_ENV (CI on ECS).
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      POWERTOOLS_TRACE_ENABLED: "false",
    },
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
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
          exclude: ["test/chaos/regions.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Each file runs its own runtime (its own emulators, ports and logs); they spend most of
          // their time waiting on leases and timeouts, so two run side by side.
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
      {
        // Alone: its scenarios time replication and control calls across regions to the second.
        test: {
          name: "chaos-regions",
          include: ["test/chaos/regions.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
