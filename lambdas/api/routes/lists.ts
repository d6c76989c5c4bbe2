import { randomUUID } from "node:crypto";
import type { MailingList } from "../../adapters/list-store.ts";
import { nextConfirmation } from "../../domain/opt-in.ts";
import { decide } from "../../domain/campaign-lifecycle.ts";
import { ConflictError, NotFoundError } from "../../domain/errors.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { type HttpEvent, type HttpResult, json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { createListSchema, listPageSchema, listSchema, patchListSchema } from "../audience-schemas.ts";
import { pageQuerySchema } from "../schemas.ts";
import { NO_CONTENT, paged, pathId } from "./helpers.ts";

type Params = Record<string, string>;

export async function createList(event: HttpEvent, _params: Params, deps: Deps): Promise<HttpResult> {
  const input = validate(createListSchema, jsonBody(event));
  const now = deps.now().toISOString();
  const optIn = input.optIn ?? "single";
  const confirmation =
    optIn === "double" || input.confirmation
      ? nextConfirmation(undefined, input.confirmation ?? {})
      : undefined;
  const list: MailingList = {
    id: randomUUID(),
    name: input.name,
    createdAt: now,
    optIn,
    ...(confirmation ? { confirmation, confirmationHistory: [{ ...confirmation, at: now }] } : {}),
  };
  await deps.lists.create(list);
  return json(201, listView(list));
}

/** A list as the API shows it: its opt-in mode and current confirmation email, not their history. */
function listView({ confirmationHistory: _history, ...list }: MailingList) {
  return { ...list, optIn: list.optIn ?? "single" };
}

export const pageLists: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  const found = await paged(() => deps.lists.page(query.limit, query.cursor));
  return json(200, { ...found, items: found.items.map(listView) });
};

export const getList: RouteHandler = async (_event, params, deps) => {
  const list = await requireList(params, deps);
  return json(200, { ...listView(list), subscriberCount: await deps.subscribers.count(list.id) });
};

export const patchList: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "listId", "list");
  const input = validate(patchListSchema, jsonBody(event));
  const list = await deps.lists.update(
    id,
    {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.optIn !== undefined ? { optIn: input.optIn } : {}),
      ...(input.confirmation !== undefined ? { confirmation: input.confirmation } : {}),
    },
    deps.now().toISOString(),
  );
  if (!list) throw new NotFoundError("list");
  if (list === "conflict")
    throw new ConflictError("the confirmation email changed meanwhile; read the list and retry");
  return json(200, listView(list));
};

/**
 * Deletes a list and erases its subscribers and their ledger items of its campaigns (GDPR Art. 17)
 * in the background; the list is gone at once. Suppressed addresses stay suppressed. Refused (409,
 * naming the campaign) while a campaign is on its way to the list: cancel it or let it finish first.
 */
export const deleteList: RouteHandler = async (_event, params, deps) => {
  const list = await requireList(params, deps);
  const sending = await campaignSendingTo(list.id, deps);
  if (sending)
    throw new ConflictError(
      `campaign ${sending} is sending to this list: cancel it or let it finish before deleting the list`,
    );
  if (!(await deps.lists.delete(list, deps.now().toISOString()))) throw new NotFoundError("list");
  // The erasure record written with the deletion is the durable to-do; this message only makes it
  // start now (the scheduler re-enqueues it if the message is lost).
  await deps.queue.send(deps.audienceJobsQueueUrl, { kind: "erase-list", listId: list.id });
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

/**
 * A campaign on its way to the list that can still be cancelled (queued, sending, paused), if any:
 * the scheduler's watch entries name their list, so only those campaigns are read.
 */
async function campaignSendingTo(listId: string, deps: Deps): Promise<string | undefined> {
  for (const entry of await deps.agenda.activeOn(listId)) {
    const campaign = await deps.campaigns.get(entry.id, true);
    if (campaign?.listId === listId && decide(campaign.status, "cancel").kind === "apply") return campaign.id;
  }
  return undefined;
}

async function requireList(params: Params, deps: Deps) {
  const list = await deps.lists.get(pathId(params, "listId", "list"));
  if (!list) throw new NotFoundError("list");
  return list;
}

export const docs = {
  createList: {
    summary: "Create a list",
    body: createListSchema,
    responses: { 201: { description: "created", schema: listSchema } },
  },
  pageLists: {
    summary: "Lists, newest first",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: listPageSchema } },
  },
  getList: {
    summary: "A list with its subscriberCount",
    responses: { 200: { description: "the list", schema: listSchema } },
  },
  patchList: {
    summary: "Rename a list",
    body: patchListSchema,
    responses: { 200: { description: "the list", schema: listSchema } },
  },
  deleteList: {
    summary: "Delete a list and erase its subscribers (suppressions stay)",
    responses: NO_CONTENT,
  },
} satisfies Record<string, RouteDoc>;
