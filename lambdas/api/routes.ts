import { randomUUID } from "node:crypto";
import { InvalidCursorError } from "../adapters/ledger-store.ts";
import { type Campaign, deriveStatus } from "../domain/campaign.ts";
import { ApiError, NotFoundError, ValidationError } from "../domain/errors.ts";
import type { RecipientCounts } from "../domain/ledger.ts";
import type { Deps, RouteHandler } from "./context.ts";
import { type HttpEvent, type HttpResult, json, jsonBody, validate } from "./http.ts";
import type { Route } from "./router.ts";
import {
  createCampaignSchema,
  createListSchema,
  idSchema,
  recipientsQuerySchema,
  subscriberSchema,
  upsertSubscribersSchema,
} from "./schemas.ts";

export async function createList(
  event: HttpEvent,
  _params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const input = validate(createListSchema, jsonBody(event));
  const list = { id: randomUUID(), name: input.name, createdAt: deps.now().toISOString() };
  await deps.audience.createList(list);
  return json(201, list);
}

export async function upsertSubscribers(
  event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const listId = pathId(params, "listId");
  const input = validate(upsertSubscribersSchema, jsonBody(event));
  if (!(await deps.audience.getList(listId))) throw new NotFoundError("list");
  const rejected: { index: number; email: unknown; error: string }[] = [];
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
  await deps.audience.upsertSubscribers(listId, [...accepted.values()], deps.now().toISOString());
  return json(200, { upserted: accepted.size, rejected });
}

export async function createCampaign(
  event: HttpEvent,
  _params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const input = validate(createCampaignSchema, jsonBody(event));
  const from = input.from ?? deps.defaultFrom;
  const fromDomain = from.slice(from.lastIndexOf("@") + 1);
  if (fromDomain !== deps.senderDomain && !fromDomain.endsWith(`.${deps.senderDomain}`)) {
    const message = `must be an address at ${deps.senderDomain}, the verified sending domain`;
    throw new ValidationError(`body.from: ${message}`, [{ path: "body.from", message }]);
  }
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
    status: "draft",
    createdAt: now,
    updatedAt: now,
  };
  await deps.audience.createCampaign(campaign);
  return json(201, present(campaign));
}

/**
 * Starts sending. Idempotent: the first call moves the campaign out of `draft` and enqueues its
 * fan-out; later calls change nothing, except that they re-enqueue a fan-out that never made it to
 * the queue (the process died between the two writes).
 */
export async function sendCampaign(
  _event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const id = pathId(params, "id");
  let campaign = await deps.audience.getCampaign(id, true);
  if (!campaign) throw new NotFoundError("campaign");
  const now = deps.now().toISOString();
  if (campaign.status === "draft") {
    await deps.audience.markActive(id, now);
    await deps.audience.transitionCampaign(id, "draft", "queued", now, { sendRequestedAt: now });
    campaign = await deps.audience.getCampaign(id, true);
    if (!campaign) throw new NotFoundError("campaign");
  }
  if (!campaign.fanoutEnqueuedAt) {
    await deps.queue.send(deps.fanoutQueueUrl, { campaignId: id });
    await deps.audience.markFanoutEnqueued(id, now);
  }
  return json(202, { id, status: campaign.status });
}

export async function getCampaign(
  _event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const id = pathId(params, "id");
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

export async function listRecipients(
  event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
): Promise<HttpResult> {
  const id = pathId(params, "id");
  const query = validate(recipientsQuerySchema, event.queryStringParameters ?? {}, "query");
  if (!(await deps.audience.getCampaign(id))) throw new NotFoundError("campaign");
  try {
    const page = await deps.ledger.list(id, query.status, query.limit, query.cursor);
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
  } catch (error) {
    if (error instanceof InvalidCursorError) {
      throw new ValidationError("query.cursor: not a valid cursor", [
        { path: "query.cursor", message: "not a valid cursor" },
      ]);
    }
    throw error;
  }
}

function pathId(params: Record<string, string>, name: string): string {
  const value = params[name] ?? "";
  const result = idSchema.safeParse(value);
  // An id that cannot exist is simply not found: nothing to say about its syntax.
  if (!result.success)
    throw new ApiError(404, "not_found", `${name === "listId" ? "list" : "campaign"} not found`);
  return result.data;
}

function present(campaign: Campaign, counts?: RecipientCounts) {
  const {
    fanoutDone: _done,
    fanoutEnqueuedAt: _enq,
    finalCounts: _final,
    ...rest
  } = campaign as Campaign & {
    fanoutCursor?: string;
  };
  const { fanoutCursor: _cursor, ...visible } = rest as typeof rest & { fanoutCursor?: string };
  return { ...visible, ...(counts ? { counts } : {}) };
}

/** Lists, subscribers and campaigns. */
export const coreRoutes: readonly Route[] = [
  { method: "POST", path: "/v1/lists", scope: "write", handler: createList },
  { method: "PUT", path: "/v1/lists/{listId}/subscribers", scope: "write", handler: upsertSubscribers },
  { method: "POST", path: "/v1/campaigns", scope: "write", handler: createCampaign },
  { method: "GET", path: "/v1/campaigns/{id}", scope: "read", handler: getCampaign },
  { method: "POST", path: "/v1/campaigns/{id}/send", scope: "write", handler: sendCampaign },
  { method: "GET", path: "/v1/campaigns/{id}/recipients", scope: "read", handler: listRecipients },
];
