import { z } from "zod";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { json, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { idSchema } from "../schemas.ts";
import { optionalBody } from "./helpers.ts";

/** How long cancel spends marking recipients in the request itself; the scheduler finishes the rest. */
const CANCEL_SWEEP_MS = 3_000;

const pauseSchema = z.strictObject({ reason: z.string().trim().min(1).max(200).optional() });

async function campaignOr404(deps: Deps, id: string) {
  if (!idSchema.safeParse(id).success) throw new NotFoundError("campaign");
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  return campaign;
}

/** Pauses a queued or sending campaign: senders stop calling SES for it within seconds. Idempotent. */
export const pause: RouteHandler = async (event, params, deps) => {
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
export const resume: RouteHandler = async (_event, params, deps) => {
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
export const cancel: RouteHandler = async (_event, params, deps) => {
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

export const docs = {
  pause: {
    summary: "Pause a queued or sending campaign: no new SES calls within seconds",
    body: pauseSchema,
    responses: { 200: { description: "paused (repeating is harmless)" } },
  },
  resume: { summary: "Resume a paused campaign", responses: { 200: { description: "sending again" } } },
  cancel: {
    summary: "Cancel a campaign: every recipient not yet sent ends cancelled",
    responses: { 200: { description: "cancelled" } },
  },
} satisfies Record<string, RouteDoc>;
