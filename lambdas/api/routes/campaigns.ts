import { randomUUID } from "node:crypto";
import type { Campaign } from "../../domain/campaign.ts";
import { UNSTARTED_STATUSES } from "../../domain/campaign-lifecycle.ts";
import { completeIfDone, requestSend } from "../../usecases/campaign-workflows.ts";
import { missingSegments } from "../../usecases/campaign-audience.ts";
import { acts, standing } from "../../usecases/campaign-ownership.ts";
import { deriveStatus } from "../../domain/campaign.ts";
import { effectiveStatus, pendingIntents } from "../../domain/ownership.ts";
import { appliedIntents } from "../../adapters/campaign-items.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { RecipientCounts } from "../../domain/ledger.ts";
import { htmlToText, renderTemplate } from "../../domain/render.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { type HttpEvent, type HttpResult, json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import {
  campaignPageSchema,
  campaignsQuerySchema,
  campaignViewSchema,
  createCampaignSchema,
  followUpSchema,
  patchCampaignSchema,
  previewResultSchema,
  previewSchema,
  recipientPageSchema,
  recipientsQuerySchema,
  sendResultSchema,
} from "../schemas.ts";
import { checkContentSize, NO_CONTENT, paged, pathId } from "./helpers.ts";
import { templateContent } from "./templates.ts";

type Params = Record<string, string>;

export async function createCampaign(event: HttpEvent, _params: Params, deps: Deps): Promise<HttpResult> {
  const input = validate(createCampaignSchema, jsonBody(event));
  const from = input.from ?? deps.defaultFrom;
  checkFrom(from, deps);
  checkScheduledAt(input.scheduledAt, deps);
  if (!(await deps.lists.get(input.listId))) {
    throw new ValidationError("body.listId: list does not exist", [
      { path: "body.listId", message: "list does not exist" },
    ]);
  }
  await checkAudience(input, input.listId, deps);
  const content = input.templateId
    ? await templateContent(deps.templates, input.templateId, input.templateVersion, input.subject)
    : {
        subject: input.subject as string,
        html: input.html as string,
        ...(input.text ? { text: input.text } : {}),
      };
  checkContentSize(content);
  return createDraft(deps, {
    listId: input.listId,
    ...(input.segmentId ? { segmentId: input.segmentId } : {}),
    ...(input.excludeListIds?.length ? { excludeListIds: input.excludeListIds } : {}),
    ...(input.excludeSegmentIds?.length ? { excludeSegmentIds: input.excludeSegmentIds } : {}),
    from,
    ...content,
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    ...(input.scheduledAt ? { scheduledAt: input.scheduledAt } : {}),
  });
}

/** Stores a new draft and answers 201 with it. */
async function createDraft(
  deps: Deps,
  fields: Omit<Campaign, "id" | "status" | "createdAt" | "updatedAt">,
): Promise<HttpResult> {
  const now = deps.now().toISOString();
  const campaign: Campaign = { id: randomUUID(), ...fields, status: "draft", createdAt: now, updatedAt: now };
  await deps.campaigns.create(campaign);
  return json(201, present(campaign));
}

/**
 * POST /v1/campaigns/{id}/follow-up: a draft to part of a campaign's recipients, chosen from its
 * ledger when the draft is sent (domain/follow-up.ts); the campaign's content unless other is given.
 */
export async function followUp(event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const id = pathId(params, "id", "campaign");
  const input = validate(followUpSchema, jsonBody(event));
  const parent = await deps.campaigns.get(id, true);
  if (!parent || parent.purpose) throw new NotFoundError("campaign");
  if (UNSTARTED_STATUSES.includes(parent.status) || parent.status === "queued")
    throw new ConflictError(
      `a follow-up needs a campaign that has started sending; this one is ${parent.status}`,
    );
  checkScheduledAt(input.scheduledAt, deps);
  // New html without text gets a text part generated from it, not the campaign's.
  const text = input.html !== undefined ? input.text : (input.text ?? parent.text);
  const content = input.templateId
    ? await templateContent(deps.templates, input.templateId, input.templateVersion, input.subject)
    : {
        subject: input.subject ?? parent.subject,
        html: input.html ?? parent.html,
        ...(text ? { text } : {}),
      };
  checkContentSize(content);
  return createDraft(deps, {
    listId: parent.listId,
    followUp: {
      campaignId: parent.id,
      audience: input.audience,
      ...(input.link ? { link: input.link } : {}),
    },
    from: parent.from,
    ...content,
    ...(parent.replyTo ? { replyTo: parent.replyTo } : {}),
    ...(input.scheduledAt ? { scheduledAt: input.scheduledAt } : {}),
  });
}

export const pageCampaigns: RouteHandler = async (event, _params, deps) => {
  const query = validate(campaignsQuerySchema, event.queryStringParameters ?? {}, "query");
  const page = await paged(() => deps.campaigns.page(query.limit, query.cursor, query.status));
  return json(200, { ...page, items: page.items.map((c) => present(c)) });
};

/** Changes a draft. 409 once the campaign has left `draft` (scheduled, sending, …). */
export const patchCampaign: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const input = validate(patchCampaignSchema, jsonBody(event));
  const campaign = await deps.campaigns.get(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  if (campaign.status !== "draft")
    throw new ConflictError(`only draft campaigns can be changed; this one is ${campaign.status}`);
  if (input.from !== undefined) checkFrom(input.from, deps);
  if (input.scheduledAt) checkScheduledAt(input.scheduledAt, deps);
  if (campaign.followUp && input.listId !== undefined && input.listId !== campaign.listId) {
    const message = "a follow-up goes to the list of the campaign it follows up";
    throw new ValidationError(`body.listId: ${message}`, [{ path: "body.listId", message }]);
  }
  if (input.listId !== undefined && !(await deps.lists.get(input.listId))) {
    throw new ValidationError("body.listId: list does not exist", [
      { path: "body.listId", message: "list does not exist" },
    ]);
  }
  await checkAudience(input, input.listId ?? campaign.listId, deps);
  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (value === null) remove.push(key);
    else if (value !== undefined) set[key] = value;
  }
  // New html or text is the campaign's own content: it no longer is the template's version.
  if (campaign.templateId && (input.html !== undefined || input.text !== undefined))
    remove.push("templateId", "templateVersion");
  checkContentSize({
    subject: input.subject ?? campaign.subject,
    html: input.html ?? campaign.html,
    text: input.text === null ? undefined : (input.text ?? campaign.text),
  });
  if (!(await deps.campaigns.updateDraft(id, { set, remove }, deps.now().toISOString()))) {
    throw new ConflictError("only draft campaigns can be changed; this one has just left draft");
  }
  const updated = await deps.campaigns.get(id, true);
  if (!updated) throw new NotFoundError("campaign");
  return json(200, present(updated));
};

/**
 * Deletes a campaign that never started (draft or scheduled). A campaign that has started keeps its
 * ledger and counts: 409 (cancel it instead).
 */
export const deleteCampaign: RouteHandler = async (_event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const campaign = await deps.campaigns.get(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  const unschedule = campaign.scheduledAt ? [deps.agenda.unscheduledEntry(id, campaign.scheduledAt)] : [];
  if (!(await deps.campaigns.deleteUnstarted(campaign, unschedule))) {
    throw new ConflictError(
      `only draft or scheduled campaigns can be deleted; this one is ${campaign.status} (cancel it instead)`,
    );
  }
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

/**
 * Starts sending, or schedules the campaign when its `scheduledAt` is still ahead. Idempotent: the
 * first call moves the campaign out of `draft`; later calls change nothing, except that they
 * re-enqueue a fan-out that never made it to the queue.
 */
export async function sendCampaign(_event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const id = pathId(params, "id", "campaign");
  const draft = await deps.campaigns.get(id, true);
  if (draft?.status === "draft") {
    const gone = await missingSegments(deps.segments, [
      ...(draft.segmentId ? [draft.segmentId] : []),
      ...(draft.excludeSegmentIds ?? []),
    ]);
    if (gone.length > 0)
      throw new ConflictError(
        `segment ${gone.join(", ")} no longer exists: change the campaign's segments first`,
      );
  }
  const after = draft && (await requestSend(deps, id, deps.now(), draft));
  if (!after) throw new NotFoundError("campaign");
  if ("kind" in after) {
    // Another region owns the campaign: it was sent there (coordination table), or the home region
    // starts it (no coordination table).
    return json(202, {
      id,
      status: after.campaign.status,
      ownerRegion: after.ownerRegion,
      requested: "send",
    });
  }
  return json(202, {
    id,
    status: after.status,
    ...(after.ownerRegion ? { ownerRegion: after.ownerRegion } : {}),
    ...(after.scheduledAt ? { scheduledAt: after.scheduledAt } : {}),
  });
}

export async function getCampaign(_event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const id = pathId(params, "id", "campaign");
  const campaign = await deps.campaigns.get(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  if (campaign.finalCounts) return json(200, present(campaign, campaign.finalCounts));
  const counts = await deps.ledger.count(id);
  // A pause, resume or cancel asked of any region shows as soon as it reaches this replica, before
  // the owner has applied it: it is what the owner's senders obey from then on.
  const pending = pendingIntents(campaign.intents ?? [], appliedIntents(campaign));
  const status = deriveStatus({ ...campaign, status: effectiveStatus(campaign.status, pending) }, counts);
  // Noticing the end is a write of the campaign item: only its owner makes it (the watch does too).
  if (
    status === "sent" &&
    campaign.status !== "sent" &&
    acts(deps.ownership, await standing(deps.ownership, id))
  )
    await completeIfDone(deps, campaign, counts, deps.now().toISOString());
  return json(200, present({ ...campaign, status }, counts));
}

/** Renders the campaign for one subscriber of its list, as the sender would. Writes nothing. */
export const previewCampaign: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const input = validate(previewSchema, jsonBody(event));
  const campaign = await deps.campaigns.get(id);
  if (!campaign) throw new NotFoundError("campaign");
  const subscriber = await deps.subscribers.get(campaign.listId, input.email);
  if (!subscriber) throw new NotFoundError("subscriber (in the campaign's list)");
  const ctx = { email: subscriber.email, attributes: subscriber.attributes };
  return json(200, {
    subject: renderTemplate(campaign.subject, ctx, "header"),
    html: renderTemplate(campaign.html, ctx, "html"),
    text: renderTemplate(campaign.text ?? htmlToText(campaign.html), ctx, "text"),
  });
};

export async function listRecipients(event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const id = pathId(params, "id", "campaign");
  const query = validate(recipientsQuerySchema, event.queryStringParameters ?? {}, "query");
  if (!(await deps.campaigns.get(id))) throw new NotFoundError("campaign");
  const page = await paged(() => deps.ledger.list(id, query.status, query.limit, query.cursor));
  return json(200, {
    items: page.items.map((item) => ({
      email: item.email,
      status: item.status,
      attempts: item.attempts,
      ...(item.region ? { region: item.region } : {}),
      ...(item.sesMessageId ? { sesMessageId: item.sesMessageId } : {}),
      ...(item.error ? { error: item.error } : {}),
      ...(item.reason ? { reason: item.reason } : {}),
      ...(item.updatedAt ? { updatedAt: item.updatedAt } : {}),
    })),
    ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
  });
}

function checkFrom(from: string, deps: Deps): void {
  const fromDomain = from.slice(from.lastIndexOf("@") + 1);
  if (fromDomain !== deps.senderDomain && !fromDomain.endsWith(`.${deps.senderDomain}`)) {
    const message = `must be an address at ${deps.senderDomain}, the verified sending domain`;
    throw new ValidationError(`body.from: ${message}`, [{ path: "body.from", message }]);
  }
}

function checkScheduledAt(scheduledAt: string | undefined, deps: Deps): void {
  if (scheduledAt !== undefined && Date.parse(scheduledAt) <= deps.now().getTime()) {
    throw new ValidationError("body.scheduledAt: must be in the future", [
      { path: "body.scheduledAt", message: "must be in the future" },
    ]);
  }
}

const VIEW_FIELDS = new Set(Object.keys(campaignViewSchema.shape));

/**
 * Checks that the segments and lists a campaign names exist: 400 naming the field otherwise. Its own
 * list is not one to exclude.
 */
async function checkAudience(
  input: {
    segmentId?: string | null;
    excludeListIds?: readonly string[] | null;
    excludeSegmentIds?: readonly string[] | null;
  },
  listId: string,
  deps: Deps,
): Promise<void> {
  const refuse = (path: string, message: string) => {
    throw new ValidationError(`${path}: ${message}`, [{ path, message }]);
  };
  if (input.segmentId && (await missingSegments(deps.segments, [input.segmentId])).length > 0)
    refuse("body.segmentId", "segment does not exist");
  for (const [i, id] of (input.excludeSegmentIds ?? []).entries())
    if ((await missingSegments(deps.segments, [id])).length > 0)
      refuse(`body.excludeSegmentIds.${i}`, "segment does not exist");
  for (const [i, id] of (input.excludeListIds ?? []).entries()) {
    if (id === listId) refuse(`body.excludeListIds.${i}`, "the campaign's own list cannot be excluded");
    if (!(await deps.lists.get(id))) refuse(`body.excludeListIds.${i}`, "list does not exist");
  }
}

/** A campaign as clients see it: the fields of its view, none of the pipeline's bookkeeping. */
function present(campaign: Campaign, counts?: RecipientCounts) {
  const audience = campaign.audience;
  const segmentVersions = audience
    ? Object.fromEntries(
        [...(audience.include ? [audience.include] : []), ...audience.exclude].map((s) => [s.id, s.version]),
      )
    : undefined;
  const shown = {
    ...campaign,
    ...(segmentVersions && Object.keys(segmentVersions).length > 0 ? { segmentVersions } : {}),
    ...(counts ? { counts } : {}),
  } as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(shown).filter(([field, value]) => VIEW_FIELDS.has(field) && value !== null),
  );
}

export const docs = {
  createCampaign: {
    summary: "Create a draft campaign",
    body: createCampaignSchema,
    responses: { 201: { description: "created", schema: campaignViewSchema } },
  },
  pageCampaigns: {
    summary: "Campaigns, newest first",
    query: campaignsQuerySchema,
    responses: { 200: { description: "a page", schema: campaignPageSchema } },
  },
  getCampaign: {
    summary: "A campaign with its recipient counts",
    responses: { 200: { description: "the campaign", schema: campaignViewSchema } },
  },
  patchCampaign: {
    summary: "Change a draft (null clears a field)",
    body: patchCampaignSchema,
    responses: { 200: { description: "the campaign", schema: campaignViewSchema } },
  },
  deleteCampaign: { summary: "Delete a draft or scheduled campaign (409 otherwise)", responses: NO_CONTENT },
  sendCampaign: {
    summary: "Send now, or schedule when scheduledAt is ahead",
    responses: { 202: { description: "accepted", schema: sendResultSchema } },
  },
  previewCampaign: {
    summary: "Render for one subscriber of the list",
    body: previewSchema,
    responses: { 200: { description: "rendered", schema: previewResultSchema } },
  },
  followUp: {
    summary: "A draft to part of the campaign's recipients, chosen from its ledger when sent",
    body: followUpSchema,
    responses: { 201: { description: "the follow-up, a draft", schema: campaignViewSchema } },
  },
  listRecipients: {
    summary: "Recipients and their delivery state",
    query: recipientsQuerySchema,
    responses: { 200: { description: "a page", schema: recipientPageSchema } },
  },
} satisfies Record<string, RouteDoc>;
