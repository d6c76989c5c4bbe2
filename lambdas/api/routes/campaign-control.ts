import { z } from "zod";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import {
  cancelCampaign,
  type ControlOutcome,
  pauseCampaign,
  resumeCampaign,
} from "../../usecases/campaign-workflows.ts";
import type { RouteHandler } from "../context.ts";
import { takeOver } from "../../usecases/owner-duties.ts";
import { type HttpResult, json, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { idSchema } from "../schemas.ts";
import { optionalBody } from "./helpers.ts";

/** How long cancel spends marking recipients in the request itself; the scheduler finishes the rest. */
const CANCEL_SWEEP_MS = 3_000;
/** How long resume spends re-enqueueing held recipients; the scheduler's watch enqueues the rest. */
const RESUME_REQUEUE_MS = 5_000;

const pauseSchema = z.strictObject({ reason: z.string().trim().min(1).max(200).optional() });

/** The campaign id of the path, or 404: a malformed id names no campaign. */
function campaignId(params: Record<string, string>): string {
  const id = params.id ?? "";
  if (!idSchema.safeParse(id).success) throw new NotFoundError("campaign");
  return id;
}

/**
 * The answer to a control call: 200 with the status, 404, or 409 with the lifecycle's reason; 202
 * when another region owns the campaign and applies the call (its senders obey a pause or cancel as
 * soon as the request reaches its replica, about a second).
 */
function answer(outcome: ControlOutcome, extra: Record<string, unknown> = {}): HttpResult {
  if (outcome.kind === "missing") throw new NotFoundError("campaign");
  if (outcome.kind === "refused") throw new ConflictError(outcome.reason);
  if (outcome.kind === "requested") {
    return json(202, {
      id: outcome.campaign.id,
      status: outcome.campaign.status,
      ownerRegion: outcome.ownerRegion,
      requested: outcome.action,
    });
  }
  return json(200, { id: outcome.campaign.id, status: outcome.campaign.status, ...extra });
}

/**
 * Takes a campaign over from its owner region when that region is gone (admin): refused with 409
 * while the owner's lease is live, and for a campaign its owner finished. The survivor re-enqueues
 * the unfinished fan-out and every
 * recipient not yet terminal; with a coordination table the scheduler does this by itself.
 */
export const takeover: RouteHandler = async (_event, params, deps) => {
  const id = campaignId(params);
  if (!(await deps.campaigns.get(id, true))) throw new NotFoundError("campaign");
  const outcome = await takeOver(deps, id);
  if (outcome.kind === "refused") throw new ConflictError(outcome.reason);
  return json(200, {
    id,
    ownerRegion: outcome.record.ownerRegion,
    epoch: outcome.record.epoch,
    takenOver: outcome.kind === "taken",
  });
};

/** Pauses a queued or sending campaign: senders stop calling SES for it within seconds. Idempotent. */
export const pause: RouteHandler = async (event, params, deps) => {
  const input = validate(pauseSchema, optionalBody(event));
  const id = campaignId(params);
  return answer(await pauseCampaign(deps, id, input.reason ?? "paused by API", deps.now().toISOString()));
};

/**
 * Resumes a paused campaign: its held recipients are enqueued again and sent, none twice (the ledger
 * decides). Idempotent.
 */
export const resume: RouteHandler = async (_event, params, deps) => {
  const outcome = await resumeCampaign(deps, campaignId(params), deps.now(), RESUME_REQUEUE_MS);
  return answer(
    outcome,
    outcome.kind === "applied" ? { recipientsRequeued: outcome.recipientsRequeued ?? 0 } : {},
  );
};

/**
 * Cancels a scheduled or running campaign: no new SES calls; every recipient not yet sent ends
 * `cancelled`. The request marks what it can in a few seconds; senders and the scheduler mark the
 * rest. A scheduled campaign is cancelled before it starts.
 */
export const cancel: RouteHandler = async (_event, params, deps) => {
  const outcome = await cancelCampaign(deps, campaignId(params), deps.now(), CANCEL_SWEEP_MS);
  return answer(
    outcome,
    outcome.kind === "applied" ? { recipientsCancelled: outcome.recipientsCancelled ?? 0 } : {},
  );
};

export const docs = {
  pause: {
    summary: "Pause a queued or sending campaign: no new SES calls within seconds",
    body: pauseSchema,
    responses: {
      200: { description: "paused (repeating is harmless)" },
      202: { description: "another region owns the campaign and applies the pause" },
    },
  },
  resume: { summary: "Resume a paused campaign", responses: { 200: { description: "sending again" } } },
  cancel: {
    summary: "Cancel a campaign: every recipient not yet sent ends cancelled",
    responses: { 200: { description: "cancelled" } },
  },
  takeover: {
    summary: "Make this region the campaign's owner when its owner region is gone (admin)",
    responses: {
      200: { description: "this region owns the campaign" },
      409: { description: "the owner's lease is still live" },
    },
  },
} satisfies Record<string, RouteDoc>;
