import { Metrics } from "@aws-lambda-powertools/metrics";
import { type MockInstance, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { publishMetrics } from "../../lambdas/shared/powertools.ts";

describe("publishMetrics", () => {
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  let printed: MockInstance<typeof console.log>;
  let metrics: Metrics;

  beforeEach(() => {
    // Powertools' dev mode prints the metrics (EMF) through the global console, where they are seen.
    vi.stubEnv("POWERTOOLS_DEV", "true");
    // Dev mode also turns metrics off unless told otherwise.
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    printed = vi.spyOn(console, "log").mockImplementation(() => undefined);
    metrics = new Metrics({ namespace: "Test", serviceName: "unit", logger });
  });

  afterEach(() => {
    printed.mockRestore();
    vi.unstubAllEnvs();
    vi.clearAllMocks();
  });

  it("publishes nothing and warns of nothing when the invocation stored no metric", () => {
    publishMetrics(metrics);
    expect(logger.warn).not.toHaveBeenCalled();
    expect(printed).not.toHaveBeenCalled();
  });

  it("publishes what the invocation stored, once", () => {
    metrics.addMetric("EmailsSent", "Count", 2);
    publishMetrics(metrics);
    publishMetrics(metrics);
    expect(printed).toHaveBeenCalledTimes(1);
    const emf = JSON.parse(String(printed.mock.calls[0]?.[0])) as Record<string, unknown>;
    expect(emf.EmailsSent).toBe(2);
    expect(logger.warn).not.toHaveBeenCalled();
  });
});
