import { randomUUID } from "node:crypto";
import type { WebhookDelivery } from "../../adapters/webhook-delivery-store.ts";
import type { Webhook, WebhookSettings } from "../../adapters/webhook-store.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import { webhookUrlProblem } from "../../domain/webhook-delivery.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { pageQuerySchema } from "../schemas.ts";
import {
  createWebhookSchema,
  deliveryPageSchema,
  patchWebhookSchema,
  replayAcceptedSchema,
  replaySchema,
  webhookPageSchema,
  webhookViewSchema,
} from "../webhook-schemas.ts";
import { NO_CONTENT, paged, pathId } from "./helpers.ts";

/** An endpoint as the API shows it: its state as its status, never its secrets. */
function present(webhook: Webhook) {
  const { secrets, state, enabledAt: _e, ...shown } = webhook;
  return { ...shown, status: state, secretRotating: secrets.length > 1 };
}

function checkUrl(url: string, deps: Deps): void {
  const problem = webhookUrlProblem(url, deps.allowLoopbackWebhooks);
  if (problem) throw new ValidationError(`body.url: ${problem}`, [{ path: "body.url", message: problem }]);
}

async function requireWebhook(params: Record<string, string>, deps: Deps): Promise<Webhook> {
  const webhook = await deps.webhooks.get(pathId(params, "id", "webhook"), true);
  if (!webhook) throw new NotFoundError("webhook");
  return webhook;
}

export const createWebhook: RouteHandler = async (event, _params, deps) => {
  const input = validate(createWebhookSchema, jsonBody(event));
  checkUrl(input.url, deps);
  const now = deps.now().toISOString();
  const webhook: WebhookSettings = {
    id: randomUUID(),
    url: input.url,
    events: input.events,
    secrets: [input.secret],
    status: "enabled",
    createdAt: now,
    updatedAt: now,
  };
  await deps.webhooks.create(webhook);
  return json(201, present({ ...webhook, state: "enabled" }));
};

export const pageWebhooks: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  const page = await paged(() => deps.webhooks.page(query.limit, query.cursor));
  return json(200, { ...page, items: page.items.map(present) });
};

export const getWebhook: RouteHandler = async (_event, params, deps) =>
  json(200, present(await requireWebhook(params, deps)));

export const patchWebhook: RouteHandler = async (event, params, deps) => {
  const input = validate(patchWebhookSchema, jsonBody(event));
  if (input.url !== undefined) checkUrl(input.url, deps);
  const { state, failingSince, disabledReason, ...current } = await requireWebhook(params, deps);
  const now = deps.now().toISOString();
  // Enabling: the regions' records of its failures until now are history. Stamped whatever this
  // region reads as the state: another region may have disabled it a moment ago, unreplicated yet.
  const enabling = input.status === "enabled";
  const changed: WebhookSettings = {
    ...current,
    ...(input.url !== undefined ? { url: input.url } : {}),
    ...(input.events !== undefined ? { events: input.events } : {}),
    // A new secret signs from now on; the previous one keeps signing until the next change.
    ...(input.secret !== undefined ? { secrets: [input.secret, current.secrets[0] as string] } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
    ...(enabling ? { enabledAt: now } : {}),
    updatedAt: now,
  };
  if (!(await deps.webhooks.put(changed))) throw new NotFoundError("webhook");
  const shown: Webhook = enabling
    ? { ...changed, state: "enabled" }
    : {
        ...changed,
        state: changed.status === "disabled" ? "disabled" : state,
        ...(failingSince ? { failingSince } : {}),
        ...(disabledReason ? { disabledReason } : {}),
      };
  return json(200, present(shown));
};

export const deleteWebhook: RouteHandler = async (_event, params, deps) => {
  const webhook = await requireWebhook(params, deps);
  if (!(await deps.webhooks.delete(webhook))) throw new NotFoundError("webhook");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

/** GET /v1/webhooks/{id}/deliveries: the delivery log, the latest days first. */
export const pageDeliveries: RouteHandler = async (event, params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  const webhook = await requireWebhook(params, deps);
  const page = await paged(() => deps.webhookDeliveries.deliveries(webhook.id, query.limit, query.cursor));
  return json(200, { ...page, items: page.items.map(presentDelivery) });
};

/**
 * POST /v1/webhooks/{id}/replay: every event since `since` delivered to the endpoint again, each
 * with the id it had. This region's webhooks function does it, page by page, each event as a
 * delivery of the replay's own in the log (so no region rewrites another's deliveries).
 */
export const replay: RouteHandler = async (event, params, deps) => {
  const { since } = validate(replaySchema, jsonBody(event));
  const webhook = await requireWebhook(params, deps);
  const queueUrl = deps.webhookQueueUrl;
  if (!queueUrl) throw new NotFoundError("webhook");
  if (webhook.state !== "enabled")
    throw new ConflictError("the webhook is disabled: enable it (PATCH status) before a replay");
  const replayId = randomUUID();
  const until = deps.now().toISOString();
  await deps.queue.send(queueUrl, { kind: "replay", webhookId: webhook.id, replayId, since, until });
  return json(202, { replayId, since });
};

function presentDelivery(delivery: WebhookDelivery) {
  const { webhookId: _w, key: _k, begunAt: _b, event, ...rest } = delivery;
  return { eventId: event.id, type: event.type, createdAt: event.createdAt, ...rest };
}

export const docs = {
  createWebhook: {
    summary: "Register an endpoint for events (HTTPS), signed with the secret",
    body: createWebhookSchema,
    responses: { 201: { description: "created (the secret is never shown)", schema: webhookViewSchema } },
  },
  pageWebhooks: {
    summary: "Webhook endpoints, newest first",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: webhookPageSchema } },
  },
  getWebhook: {
    summary: "A webhook endpoint",
    responses: { 200: { description: "the endpoint", schema: webhookViewSchema } },
  },
  patchWebhook: {
    summary:
      "Change an endpoint: URL, events, a new secret (the previous keeps signing until the next change), status",
    body: patchWebhookSchema,
    responses: { 200: { description: "the endpoint", schema: webhookViewSchema } },
  },
  deleteWebhook: { summary: "Delete an endpoint", responses: NO_CONTENT },
  pageDeliveries: {
    summary: "The endpoint's delivery log, the latest days first",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: deliveryPageSchema } },
  },
  replay: {
    summary: "Deliver every event since a time again, each with its id",
    body: replaySchema,
    responses: { 202: { description: "queued", schema: replayAcceptedSchema } },
  },
} satisfies Record<string, RouteDoc>;
