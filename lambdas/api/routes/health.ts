import type { RouteHandler } from "../context.ts";
import { json } from "../http.ts";
import type { RouteDoc } from "../router.ts";

/**
 * GET /health, the target of the Route 53 health checks and the uptime canary (no key needed).
 * 503 when the region's DynamoDB replica or its queues fail: the region cannot take requests, and
 * clients of the shared hostname go to another. 200 `degraded` when only its SES fails: the API
 * still takes every request and the senders fail over to another region's SES, so sending clients
 * elsewhere would only move load. Each check is named in `checks`.
 */
export const health: RouteHandler = async (_event, _params, deps) => {
  const report = await deps.checkHealth();
  const checks = Object.fromEntries(
    Object.entries(report).map(([name, ok]) => [name, ok ? "ok" : "failing"]),
  );
  if (!report.dynamodb || !report.queues) return json(503, { status: "unavailable", checks });
  return json(200, { status: report.ses ? "ok" : "degraded", checks });
};

export const docs = {
  health: {
    summary: "Health of the region: its DynamoDB replica, queues and SES (no key needed)",
    responses: {
      200: { description: "ok, or degraded: SES fails in this region and sending fails over" },
      503: { description: "the region's tables or queues are unavailable" },
    },
  },
} satisfies Record<string, RouteDoc>;
