import { z } from "zod";
import { ConflictError, NotFoundError } from "../domain/errors.ts";
import type { Deps, RouteHandler } from "./context.ts";
import { header, json, jsonBody, validate } from "./http.ts";
import type { Route } from "./router.ts";
import { idSchema } from "./schemas.ts";

/** How long cancel spends marking recipients in the request itself; the scheduler finishes the rest. */
const CANCEL_SWEEP_MS = 3_000;

const pauseSchema = z.strictObject({ reason: z.string().trim().min(1).max(200).optional() });
const redriveSchema = z.strictObject({ queue: z.enum(["fanout", "send"]).optional() });

/** Optional JSON body: no body at all is `{}`; anything sent must be valid JSON. */
function optionalBody(event: Parameters<RouteHandler>[0]): unknown {
  if (!event.body && !header(event, "content-type")) return {};
  return jsonBody(event);
}

async function campaignOr404(deps: Deps, id: string) {
  if (!idSchema.safeParse(id).success) throw new NotFoundError("campaign");
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  return campaign;
}

/** Pauses a queued or sending campaign: senders stop calling SES for it within seconds. Idempotent. */
const pause: RouteHandler = async (event, params, deps) => {
  const input = validate(pauseSchema, optionalBody(event));
  const campaign = await campaignOr404(deps, params.id ?? "");
  if (campaign.status === "paused") return json(200, { id: campaign.id, status: "paused" });
  const paused = await deps.audience.pauseCampaign(
    campaign.id,
    input.reason ?? "paused by API",
    deps.now().toISOString(),
  );
  if (!paused) throw new ConflictError(`a ${campaign.status} campaign cannot be paused`);
  return json(200, { id: campaign.id, status: "paused" });
};

/** Resumes a paused campaign: held recipients are sent, none twice (the ledger decides). Idempotent. */
const resume: RouteHandler = async (_event, params, deps) => {
  const campaign = await campaignOr404(deps, params.id ?? "");
  if (campaign.status === "sending") return json(200, { id: campaign.id, status: "sending" });
  const resumed = await deps.audience.transitionCampaign(
    campaign.id,
    "paused",
    "sending",
    deps.now().toISOString(),
    {
      pausedReason: null,
    },
  );
  if (!resumed) throw new ConflictError(`a ${campaign.status} campaign cannot be resumed`);
  return json(200, { id: campaign.id, status: "sending" });
};

/**
 * Cancels a campaign: no new SES calls; every recipient not yet sent ends `cancelled`. The request
 * marks what it can in a few seconds; senders and the scheduler mark the rest.
 */
const cancel: RouteHandler = async (_event, params, deps) => {
  const campaign = await campaignOr404(deps, params.id ?? "");
  if (campaign.status === "cancelled") return json(200, { id: campaign.id, status: "cancelled" });
  if (campaign.status === "sent" || campaign.status === "draft") {
    throw new ConflictError(`a ${campaign.status} campaign cannot be cancelled`);
  }
  const now = deps.now().toISOString();
  let cancelled = false;
  for (const from of ["queued", "sending", "paused"] as const) {
    if (await deps.audience.transitionCampaign(campaign.id, from, "cancelled", now, { cancelledAt: now })) {
      cancelled = true;
      break;
    }
  }
  if (!cancelled) throw new ConflictError("the campaign changed state; try again");
  const deadline = Date.now() + CANCEL_SWEEP_MS;
  let marked = 0;
  while (Date.now() < deadline) {
    const pending = await deps.ledger.pending(campaign.id, Date.now(), 200);
    if (pending.length === 0) break;
    for (const email of pending) if (await deps.ledger.cancel(campaign.id, email, Date.now())) marked++;
  }
  return json(200, { id: campaign.id, status: "cancelled", recipientsCancelled: marked });
};

const queues: RouteHandler = async (_event, _params, deps) =>
  json(200, { queues: await deps.queueAdmin.report() });

/** Moves dead-lettered messages back to their queue (after the cause is fixed). */
const redrive: RouteHandler = async (event, _params, deps) => {
  const input = validate(redriveSchema, optionalBody(event));
  const names = input.queue ? [input.queue] : deps.queueAdmin.names();
  const deadline = Date.now() + 6_000;
  const results = [];
  for (const name of names) results.push(await deps.queueAdmin.redrive(name, deadline));
  return json(202, { redrives: results });
};

/** Campaign control (pause, resume, cancel) and queue administration. */
export const controlRoutes: readonly Route[] = [
  {
    method: "POST",
    path: "/v1/campaigns/{id}/pause",
    scope: "write",
    handler: pause,
    doc: {
      summary: "Pause a queued or sending campaign: no new SES calls within seconds",
      body: pauseSchema,
      responses: { 200: { description: "paused (repeating is harmless)" } },
    },
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/resume",
    scope: "write",
    handler: resume,
    doc: { summary: "Resume a paused campaign", responses: { 200: { description: "sending again" } } },
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/cancel",
    scope: "write",
    handler: cancel,
    doc: {
      summary: "Cancel a campaign: every recipient not yet sent ends cancelled",
      responses: { 200: { description: "cancelled" } },
    },
  },
  {
    method: "GET",
    path: "/v1/admin/queues",
    scope: "admin",
    handler: queues,
    doc: { summary: "Depths and oldest-message ages of every queue and its DLQ" },
  },
  {
    method: "POST",
    path: "/v1/admin/dlq/redrive",
    scope: "admin",
    handler: redrive,
    doc: {
      summary: "Move dead-lettered messages back to their queue",
      body: redriveSchema,
      responses: { 202: { description: "moved, or a move task started" } },
    },
  },
];
