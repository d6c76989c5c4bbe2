import { randomUUID } from "node:crypto";
import { startCampaign } from "../adapters/campaign-starter.ts";
import { type Campaign, deriveStatus } from "../domain/campaign.ts";
import { normalizeEmail } from "../domain/email.ts";
import { ConflictError, NotFoundError, ValidationError } from "../domain/errors.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import { htmlToText, renderTemplate } from "../domain/render.ts";
import type { Deps, RouteHandler } from "./context.ts";
import { type HttpEvent, type HttpResult, json, jsonBody, validate } from "./http.ts";
import { paged, pathId } from "./route-helpers.ts";
import type { Route } from "./router.ts";
import { apiKeyRoutes } from "./routes-api-keys.ts";
import { importRoutes } from "./routes-imports.ts";
import {
  campaignPageSchema,
  campaignsQuerySchema,
  campaignViewSchema,
  createCampaignSchema,
  createListSchema,
  listPageSchema,
  listSchema,
  pageQuerySchema,
  patchCampaignSchema,
  patchListSchema,
  patchSubscriberSchema,
  previewResultSchema,
  previewSchema,
  recipientPageSchema,
  recipientsQuerySchema,
  sendResultSchema,
  subscriberPageSchema,
  subscriberSchema,
  subscribersQuerySchema,
  subscriberViewSchema,
  upsertResultSchema,
  upsertSubscribersSchema,
} from "./schemas.ts";

type Params = Record<string, string>;

// --- Lists -------------------------------------------------------------------------------------

export async function createList(event: HttpEvent, _params: Params, deps: Deps): Promise<HttpResult> {
  const input = validate(createListSchema, jsonBody(event));
  const list = { id: randomUUID(), name: input.name, createdAt: deps.now().toISOString() };
  await deps.audience.createList(list);
  return json(201, list);
}

const pageLists: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.audience.pageLists(query.limit, query.cursor)));
};

const getList: RouteHandler = async (_event, params, deps) => {
  const list = await requireList(params, deps);
  return json(200, { ...list, subscriberCount: await deps.audience.countSubscribers(list.id) });
};

const patchList: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "listId", "list");
  const input = validate(patchListSchema, jsonBody(event));
  const list = await deps.audience.renameList(id, input.name, deps.now().toISOString());
  if (!list) throw new NotFoundError("list");
  return json(200, list);
};

/**
 * Deletes a list and erases its subscribers (GDPR Art. 17) in the background; the list is gone at
 * once. Suppressed addresses stay suppressed. Campaigns already sending to the list send only to
 * subscribers not yet erased.
 */
const deleteList: RouteHandler = async (_event, params, deps) => {
  const list = await requireList(params, deps);
  if (!(await deps.audience.deleteList(list, deps.now().toISOString()))) throw new NotFoundError("list");
  // The erasure record written with the deletion is the durable to-do; this message only makes it
  // start now (the scheduler re-enqueues it if the message is lost).
  await deps.queue.send(deps.importQueueUrl, { kind: "erase-list", listId: list.id });
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

// --- Subscribers -------------------------------------------------------------------------------

export async function upsertSubscribers(event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const listId = pathId(params, "listId", "list");
  const input = validate(upsertSubscribersSchema, jsonBody(event));
  if (!(await deps.audience.getList(listId))) throw new NotFoundError("list");
  const rejected: { index: number; email: string | null; error: string }[] = [];
  // Last occurrence wins when one request names the same address twice.
  const accepted = new Map<
    string,
    { email: string; attributes: Record<string, string | number | boolean> }
  >();
  input.subscribers.forEach((raw, index) => {
    const result = subscriberSchema.safeParse(raw);
    if (result.success) {
      accepted.set(result.data.email, { email: result.data.email, attributes: result.data.attributes ?? {} });
    } else {
      const issue = result.error.issues[0];
      const email =
        typeof raw === "object" && raw !== null && "email" in raw ? (raw as { email: unknown }).email : null;
      rejected.push({
        index,
        email: typeof email === "string" ? email.slice(0, 254) : null,
        error: issue ? `${issue.path.join(".") || "subscriber"}: ${issue.message}` : "invalid subscriber",
      });
    }
  });
  if (accepted.size === 0) {
    throw new ValidationError(
      "body.subscribers: no valid subscriber",
      rejected.slice(0, 100).map((r) => ({ path: `body.subscribers.${r.index}`, message: r.error })),
    );
  }
  await deps.audience.upsertSubscribers(listId, [...accepted.values()], deps.now().toISOString());
  return json(200, { upserted: accepted.size, rejected });
}

const listSubscribers: RouteHandler = async (event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const query = validate(subscribersQuerySchema, event.queryStringParameters ?? {}, "query");
  if (!(await deps.audience.getList(listId))) throw new NotFoundError("list");
  return json(
    200,
    await paged(() =>
      deps.audience.listSubscribers(listId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      }),
    ),
  );
};

const getSubscriber: RouteHandler = async (_event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  const subscriber = await deps.audience.getSubscriber(listId, email);
  if (!subscriber) throw new NotFoundError("subscriber");
  return json(200, subscriber);
};

const patchSubscriber: RouteHandler = async (event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  const input = validate(patchSubscriberSchema, jsonBody(event));
  const updated = await deps.audience.updateSubscriber(
    listId,
    email,
    {
      ...(input.attributes ? { attributes: input.attributes } : {}),
      ...(input.status ? { status: input.status } : {}),
    },
    deps.now().toISOString(),
  );
  if (!updated) throw new NotFoundError("subscriber");
  return json(200, updated);
};

/** Erases the subscriber (GDPR Art. 17). A suppressed address stays on the suppression list. */
const deleteSubscriber: RouteHandler = async (_event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  if (!(await deps.audience.deleteSubscriber(listId, email))) throw new NotFoundError("subscriber");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

// --- Campaigns ---------------------------------------------------------------------------------

export async function createCampaign(event: HttpEvent, _params: Params, deps: Deps): Promise<HttpResult> {
  const input = validate(createCampaignSchema, jsonBody(event));
  const from = input.from ?? deps.defaultFrom;
  checkFrom(from, deps);
  checkScheduledAt(input.scheduledAt, deps);
  if (!(await deps.audience.getList(input.listId))) {
    throw new ValidationError("body.listId: list does not exist", [
      { path: "body.listId", message: "list does not exist" },
    ]);
  }
  const now = deps.now().toISOString();
  const campaign: Campaign = {
    id: randomUUID(),
    listId: input.listId,
    from,
    subject: input.subject,
    html: input.html,
    ...(input.text ? { text: input.text } : {}),
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    ...(input.scheduledAt ? { scheduledAt: input.scheduledAt } : {}),
    status: "draft",
    createdAt: now,
    updatedAt: now,
  };
  await deps.audience.createCampaign(campaign);
  return json(201, present(campaign));
}

const pageCampaigns: RouteHandler = async (event, _params, deps) => {
  const query = validate(campaignsQuerySchema, event.queryStringParameters ?? {}, "query");
  const page = await paged(() => deps.audience.pageCampaigns(query.limit, query.cursor, query.status));
  return json(200, { ...page, items: page.items.map((c) => present(c)) });
};

/** Changes a draft. 409 once the campaign has left `draft` (scheduled, sending, …). */
const patchCampaign: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const input = validate(patchCampaignSchema, jsonBody(event));
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  if (campaign.status !== "draft")
    throw new ConflictError(`only draft campaigns can be changed; this one is ${campaign.status}`);
  if (input.from !== undefined) checkFrom(input.from, deps);
  if (input.scheduledAt) checkScheduledAt(input.scheduledAt, deps);
  if (input.listId !== undefined && !(await deps.audience.getList(input.listId))) {
    throw new ValidationError("body.listId: list does not exist", [
      { path: "body.listId", message: "list does not exist" },
    ]);
  }
  const set: Record<string, unknown> = {};
  const remove: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (value === null) remove.push(key);
    else if (value !== undefined) set[key] = value;
  }
  if (!(await deps.audience.updateDraft(id, { set, remove }, deps.now().toISOString()))) {
    throw new ConflictError("only draft campaigns can be changed; this one has just left draft");
  }
  const updated = await deps.audience.getCampaign(id, true);
  if (!updated) throw new NotFoundError("campaign");
  return json(200, present(updated));
};

/**
 * Deletes a campaign that never started (draft or scheduled). A campaign that has started keeps its
 * ledger and counts: 409 (cancel it instead).
 */
const deleteCampaign: RouteHandler = async (_event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  if (!(await deps.audience.deleteUnstartedCampaign(campaign))) {
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
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  const now = deps.now();
  if (
    campaign.status === "draft" &&
    campaign.scheduledAt &&
    Date.parse(campaign.scheduledAt) > now.getTime()
  ) {
    await deps.audience.scheduleCampaign(id, campaign.scheduledAt, now.toISOString());
  } else if (campaign.status !== "scheduled") {
    await startCampaign(deps, id, "draft", now.toISOString());
  }
  const after = await deps.audience.getCampaign(id, true);
  if (!after) throw new NotFoundError("campaign");
  return json(202, {
    id,
    status: after.status,
    ...(after.scheduledAt ? { scheduledAt: after.scheduledAt } : {}),
  });
}

export async function getCampaign(_event: HttpEvent, params: Params, deps: Deps): Promise<HttpResult> {
  const id = pathId(params, "id", "campaign");
  const campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  if (campaign.finalCounts) return json(200, present(campaign, campaign.finalCounts));
  const counts = await deps.ledger.count(id);
  const status = deriveStatus(campaign, counts);
  if (status === "sent" && campaign.status !== "sent") {
    await deps.audience.completeCampaign(id, counts, deps.now().toISOString());
    await deps.audience.clearActive(id);
  }
  return json(200, present({ ...campaign, status }, counts));
}

/** Renders the campaign for one subscriber of its list, as the sender would. Writes nothing. */
const previewCampaign: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const input = validate(previewSchema, jsonBody(event));
  const campaign = await deps.audience.getCampaign(id);
  if (!campaign) throw new NotFoundError("campaign");
  const subscriber = await deps.audience.getSubscriber(campaign.listId, input.email);
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
  if (!(await deps.audience.getCampaign(id))) throw new NotFoundError("campaign");
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

// --- Helpers -----------------------------------------------------------------------------------

function pathEmail(params: Params): string {
  const check = normalizeEmail(params.email ?? "");
  if (!check.ok) throw new NotFoundError("subscriber");
  return check.email;
}

async function requireList(params: Params, deps: Deps) {
  const list = await deps.audience.getList(pathId(params, "listId", "list"));
  if (!list) throw new NotFoundError("list");
  return list;
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

function present(campaign: Campaign, counts?: RecipientCounts) {
  const {
    fanoutDone: _done,
    fanoutEnqueuedAt: _enq,
    finalCounts: _final,
    fanoutCursor: _cursor,
    ...visible
  } = campaign as Campaign & { fanoutCursor?: string };
  return { ...visible, ...(counts ? { counts } : {}) };
}

const NO_CONTENT = { 204: { description: "deleted" } };

/** API keys, lists, subscribers, imports and campaigns. */
export const coreRoutes: readonly Route[] = [
  ...apiKeyRoutes,
  {
    method: "POST",
    path: "/v1/lists",
    scope: "write",
    handler: createList,
    doc: {
      summary: "Create a list",
      body: createListSchema,
      responses: { 201: { description: "created", schema: listSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/lists",
    scope: "read",
    handler: pageLists,
    doc: {
      summary: "Lists, newest first",
      query: pageQuerySchema,
      responses: { 200: { description: "a page", schema: listPageSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}",
    scope: "read",
    handler: getList,
    doc: {
      summary: "A list with its subscriberCount",
      responses: { 200: { description: "the list", schema: listSchema } },
    },
  },
  {
    method: "PATCH",
    path: "/v1/lists/{listId}",
    scope: "write",
    handler: patchList,
    doc: {
      summary: "Rename a list",
      body: patchListSchema,
      responses: { 200: { description: "the list", schema: listSchema } },
    },
  },
  {
    method: "DELETE",
    path: "/v1/lists/{listId}",
    scope: "write",
    handler: deleteList,
    doc: { summary: "Delete a list and erase its subscribers (suppressions stay)", responses: NO_CONTENT },
  },
  {
    method: "PUT",
    path: "/v1/lists/{listId}/subscribers",
    scope: "write",
    handler: upsertSubscribers,
    doc: {
      summary: "Insert or update up to 1,000 subscribers",
      body: upsertSubscribersSchema,
      responses: {
        200: { description: "stored; invalid rows are listed in rejected", schema: upsertResultSchema },
      },
    },
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}/subscribers",
    scope: "read",
    handler: listSubscribers,
    doc: {
      summary: "Subscribers in address order",
      query: subscribersQuerySchema,
      responses: { 200: { description: "a page", schema: subscriberPageSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "read",
    handler: getSubscriber,
    doc: {
      summary: "One subscriber",
      responses: { 200: { description: "the subscriber", schema: subscriberViewSchema } },
    },
  },
  {
    method: "PATCH",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "write",
    handler: patchSubscriber,
    doc: {
      summary: "Replace attributes and/or (un)subscribe",
      body: patchSubscriberSchema,
      responses: { 200: { description: "the subscriber", schema: subscriberViewSchema } },
    },
  },
  {
    method: "DELETE",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "write",
    handler: deleteSubscriber,
    doc: { summary: "Erase a subscriber (suppressions stay)", responses: NO_CONTENT },
  },
  ...importRoutes,
  {
    method: "POST",
    path: "/v1/campaigns",
    scope: "write",
    handler: createCampaign,
    doc: {
      summary: "Create a draft campaign",
      body: createCampaignSchema,
      responses: { 201: { description: "created", schema: campaignViewSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/campaigns",
    scope: "read",
    handler: pageCampaigns,
    doc: {
      summary: "Campaigns, newest first",
      query: campaignsQuerySchema,
      responses: { 200: { description: "a page", schema: campaignPageSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}",
    scope: "read",
    handler: getCampaign,
    doc: {
      summary: "A campaign with its recipient counts",
      responses: { 200: { description: "the campaign", schema: campaignViewSchema } },
    },
  },
  {
    method: "PATCH",
    path: "/v1/campaigns/{id}",
    scope: "write",
    handler: patchCampaign,
    doc: {
      summary: "Change a draft (null clears a field)",
      body: patchCampaignSchema,
      responses: { 200: { description: "the campaign", schema: campaignViewSchema } },
    },
  },
  {
    method: "DELETE",
    path: "/v1/campaigns/{id}",
    scope: "write",
    handler: deleteCampaign,
    doc: { summary: "Delete a draft or scheduled campaign (409 otherwise)", responses: NO_CONTENT },
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/send",
    scope: "write",
    handler: sendCampaign,
    doc: {
      summary: "Send now, or schedule when scheduledAt is ahead",
      responses: { 202: { description: "accepted", schema: sendResultSchema } },
    },
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/preview",
    scope: "read",
    handler: previewCampaign,
    doc: {
      summary: "Render for one subscriber of the list",
      body: previewSchema,
      responses: { 200: { description: "rendered", schema: previewResultSchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}/recipients",
    scope: "read",
    handler: listRecipients,
    doc: {
      summary: "Recipients and their delivery state",
      query: recipientsQuerySchema,
      responses: { 200: { description: "a page", schema: recipientPageSchema } },
    },
  },
];
