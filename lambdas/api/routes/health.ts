import { logger } from "../../shared/powertools.ts";
import type { RouteHandler } from "../context.ts";
import { json } from "../http.ts";
import type { RouteDoc } from "../router.ts";

/** GET /health: 200 when the tables and the queue answer, 503 otherwise. No key needed. */
export const health: RouteHandler = async (_event, _params, deps) => {
  try {
    await deps.checkHealth();
    return json(200, { status: "ok" });
  } catch (error) {
    logger.warn("health check failed", { error: (error as Error).name });
    return json(503, { status: "unavailable" });
  }
};

export const docs = {
  health: {
    summary: "Health of the tables and the queue (no key needed)",
    responses: { 200: { description: "ok" }, 503: { description: "a dependency is unavailable" } },
  },
} satisfies Record<string, RouteDoc>;
