import { z } from "zod";
import type { RouteHandler } from "../context.ts";
import { json, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { optionalBody } from "./helpers.ts";

export const redriveSchema = z.strictObject({ queue: z.enum(["fanout", "send"]).optional() });

export const queues: RouteHandler = async (_event, _params, deps) =>
  json(200, { queues: await deps.queueAdmin.report() });

/** Moves dead-lettered messages back to their queue (after the cause is fixed). */
export const redrive: RouteHandler = async (event, _params, deps) => {
  const input = validate(redriveSchema, optionalBody(event));
  const names = input.queue ? [input.queue] : deps.queueAdmin.names();
  const deadline = Date.now() + 6_000;
  const results = [];
  for (const name of names) results.push(await deps.queueAdmin.redrive(name, deadline));
  return json(202, { redrives: results });
};

export const docs = {
  queues: { summary: "Depths and oldest-message ages of every queue and its DLQ" },
  redrive: {
    summary: "Move dead-lettered messages back to their queue",
    body: redriveSchema,
    responses: { 202: { description: "moved, or a move task started" } },
  },
} satisfies Record<string, RouteDoc>;
