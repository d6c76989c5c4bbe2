import { randomUUID } from "node:crypto";
import type { Webhook, WebhookDelivery } from "../../adapters/webhook-store.ts";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import { webhookUrlProblem } from "../../domain/webhook-delivery.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { pageQuerySchema } from "../schemas.ts";
import {
  createWebhookSchema,
  deliveryPageSchema,
  patchWebhookSchema,
  replaySchema,
  webhookPageSchema,
  webhookViewSchema,
} from "../webhook-schemas.ts";
import { NO_CONTENT, paged, pathId } from "./helpers.ts";

/** Deliveries one replay puts back on the queue at most; replay again from the last one's time for more. */
const MAX_REPLAY = 10_000;

/** An endpoint as the API shows it: never its secrets. */
function present(webhook: Webhook) {
  const { secrets, ...shown } = webhook;
  return { ...shown, secretRotating: secrets.length > 1 };
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
  const webhook: Webhook = {
    id: randomUUID(),
    url: input.url,
    events: input.events,
    secrets: [input.secret],
    status: "enabled",
    createdAt: now,
    updatedAt: now,
  };
  await deps.webhooks.create(webhook);
  return json(201, present(webhook));
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
  const current = await requireWebhook(params, deps);
  const enabling = input.status === "enabled" && current.status === "disabled";
  const { failingSince: _f, disabledReason: _d, ...rest } = current;
  const changed: Webhook = {
    ...(enabling ? rest : current),
    ...(input.url !== undefined ? { url: input.url } : {}),
    ...(input.events !== undefined ? { events: input.events } : {}),
    // A new secret signs from now on; the previous one keeps signing until the next change.
    ...(input.secret !== undefined ? { secrets: [input.secret, current.secrets[0] as string] } : {}),
    ...(input.status !== undefined ? { status: input.status } : {}),
    updatedAt: deps.now().toISOString(),
  };
  if (!(await deps.webhooks.put(changed))) throw new NotFoundError("webhook");
  return json(200, present(changed));
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
  const page = await paged(() => deps.webhooks.deliveries(webhook.id, query.limit, query.cursor));
  return json(200, { ...page, items: page.items.map(presentDelivery) });
};

/**
 * POST /v1/webhooks/{id}/replay: every event since `since` delivered again to the endpoint (its
 * deliveries put back to `pending` and on the queue), each with the id it had.
 */
export const replay: RouteHandler = async (event, params, deps) => {
  const { since } = validate(replaySchema, jsonBody(event));
  const webhook = await requireWebhook(params, deps);
  const queueUrl = deps.webhookQueueUrl;
  if (!queueUrl) throw new NotFoundError("webhook");
  const deliveries = (await deps.webhooks.deliveriesSince(webhook.id, since)).slice(0, MAX_REPLAY);
  for (const delivery of deliveries) {
    const reopened = await deps.webhooks.reopen(delivery, deps.now().getTime());
    await deps.queue.send(queueUrl, { kind: "retry", webhookId: webhook.id, delivery: reopened.key });
  }
  return json(202, { replayed: deliveries.length });
};

function presentDelivery(delivery: WebhookDelivery) {
  const { webhookId: _w, key: _k, event, ...rest } = delivery;
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
    responses: { 202: { description: "queued" } },
  },
} satisfies Record<string, RouteDoc>;
