import { upsertEvents } from "../../domain/webhook-event.ts";
import { normalizeEmail } from "../../domain/email.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { MailingList } from "../../adapters/list-store.ts";
import { RESEND_INTERVAL_MS } from "../../domain/opt-in.ts";
import { eraseLedgerOf } from "../../usecases/erasure.ts";
import { sendConfirmations } from "../../usecases/opt-in.ts";
import type { Principal } from "../auth.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { type HttpEvent, type HttpResult, json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import {
  subscriberPageSchema,
  subscriberViewSchema,
  upsertResultSchema,
  resendResultSchema,
} from "../audience-schemas.ts";
import {
  patchSubscriberSchema,
  subscriberSchema,
  subscribersQuerySchema,
  upsertSubscribersSchema,
} from "../schemas.ts";
import { NO_CONTENT, paged, pathId } from "./helpers.ts";

type Params = Record<string, string>;

export async function upsertSubscribers(
  event: HttpEvent,
  params: Params,
  deps: Deps,
  caller?: Principal,
): Promise<HttpResult> {
  const listId = pathId(params, "listId", "list");
  const input = validate(upsertSubscribersSchema, jsonBody(event));
  const list = await requireList(listId, deps);
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
      const email = typeof raw === "object" && raw !== null && "email" in raw ? raw.email : null;
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
  // A list deleted while the writes were in flight keeps none of them.
  const now = deps.now();
  const double = list.optIn === "double";
  const { kept, awaiting, created, updated } = await deps.subscribers.upsert(
    listId,
    [...accepted.values()],
    now.toISOString(),
    {
      consent: { source: "api", at: now.toISOString(), by: caller?.keyId ?? "unknown" },
      pending: double,
    },
  );
  if (!kept) throw new NotFoundError("list");
  await deps.events.flush(upsertEvents(listId, { created, updated }, now.toISOString(), "api"));
  // New subscribers of a double opt-in list are pending: each gets a confirmation email.
  const confirmations = await sendConfirmations(deps, list, awaiting, now);
  return json(200, {
    upserted: accepted.size,
    rejected,
    ...(double ? { confirmationsRequested: awaiting.length, confirmationCampaigns: confirmations } : {}),
  });
}

export const listSubscribers: RouteHandler = async (event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const query = validate(subscribersQuerySchema, event.queryStringParameters ?? {}, "query");
  await requireList(listId, deps);
  return json(
    200,
    await paged(() =>
      deps.subscribers.page(listId, {
        limit: query.limit,
        ...(query.cursor ? { cursor: query.cursor } : {}),
        ...(query.status ? { status: query.status } : {}),
      }),
    ),
  );
};

export const getSubscriber: RouteHandler = async (_event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  await requireList(listId, deps);
  const subscriber = await deps.subscribers.get(listId, email);
  if (!subscriber) throw new NotFoundError("subscriber");
  return json(200, subscriber);
};

/**
 * Replaces attributes and/or (un)subscribes. An opted-out address (unsubscribed, bounced,
 * complained) is subscribed again only with `resubscribe.consent`, recorded with the API key and
 * the time; otherwise 409 and nothing changes.
 */
export const patchSubscriber: RouteHandler = async (event, params, deps, caller) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  const input = validate(patchSubscriberSchema, jsonBody(event));
  await requireList(listId, deps);
  const now = deps.now().toISOString();
  const outcome = await deps.subscribers.update(
    listId,
    email,
    {
      ...(input.attributes ? { attributes: input.attributes } : {}),
      ...(input.status ? { status: input.status } : {}),
      ...(input.resubscribe
        ? { resubscribe: { at: now, by: caller?.keyId ?? "unknown", consent: input.resubscribe.consent } }
        : {}),
    },
    now,
  );
  if (outcome.kind === "absent") throw new NotFoundError("subscriber");
  if (outcome.kind === "opt-out-kept")
    throw new ConflictError(
      `the subscriber is ${outcome.status}: subscribe them again only with resubscribe.consent, once they opted in again`,
    );
  return json(200, outcome.subscriber);
};

/**
 * Erases the subscriber (GDPR Art. 17): their item, and their ledger items of the campaigns sent to
 * this list (ledger first: the address is what finds them, so a retry after a crash still can). A
 * suppressed address stays on the suppression list.
 */
export const deleteSubscriber: RouteHandler = async (_event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  await requireList(listId, deps);
  await eraseLedgerOf(deps, listId, [email]);
  if (!(await deps.subscribers.delete(listId, email))) throw new NotFoundError("subscriber");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

/**
 * POST /v1/lists/{listId}/subscribers/{email}/confirmation: mails a pending subscriber the
 * confirmation email again (at most once per RESEND_INTERVAL_MS per address: 429 before then).
 */
export const resendConfirmation: RouteHandler = async (_event, params, deps) => {
  const listId = pathId(params, "listId", "list");
  const email = pathEmail(params);
  const list = await requireList(listId, deps);
  if (list.optIn !== "double") throw new ConflictError("the list does not use double opt-in");
  const now = deps.now();
  const turn = await deps.subscribers.optIn.requestConfirmation(listId, email, now, RESEND_INTERVAL_MS);
  if (turn === "absent") throw new NotFoundError("subscriber");
  if (turn === "not-pending") throw new ConflictError("the subscriber is not pending confirmation");
  if (turn === "too-soon") {
    return json(
      429,
      {
        error: {
          code: "rate_limited",
          message: "a confirmation email was sent to this address a moment ago",
        },
      },
      { "retry-after": String(RESEND_INTERVAL_MS / 1000) },
    );
  }
  const [campaignId] = await sendConfirmations(deps, list, [{ email, since: now.toISOString() }], now);
  // No address in the answer: an Idempotency-Key keeps it for a day, beyond a person's erasure.
  return json(202, { status: "pending", confirmationCampaign: campaignId });
};

/** A deleted list's subscribers are gone at once, even before their erasure has run. */
async function requireList(listId: string, deps: Deps): Promise<MailingList> {
  const list = await deps.lists.get(listId, true);
  if (!list) throw new NotFoundError("list");
  return list;
}

function pathEmail(params: Params): string {
  const check = normalizeEmail(params.email ?? "");
  if (!check.ok) throw new NotFoundError("subscriber");
  return check.email;
}

export const docs = {
  upsertSubscribers: {
    summary: "Insert or update up to 1,000 subscribers",
    body: upsertSubscribersSchema,
    responses: {
      200: { description: "stored; invalid rows are listed in rejected", schema: upsertResultSchema },
    },
  },
  listSubscribers: {
    summary: "Subscribers in address order",
    query: subscribersQuerySchema,
    responses: { 200: { description: "a page", schema: subscriberPageSchema } },
  },
  getSubscriber: {
    summary: "One subscriber",
    responses: { 200: { description: "the subscriber", schema: subscriberViewSchema } },
  },
  patchSubscriber: {
    summary: "Replace attributes and/or (un)subscribe",
    body: patchSubscriberSchema,
    responses: { 200: { description: "the subscriber", schema: subscriberViewSchema } },
  },
  deleteSubscriber: { summary: "Erase a subscriber (suppressions stay)", responses: NO_CONTENT },
  resendConfirmation: {
    summary: "Mail a pending subscriber of a double opt-in list the confirmation email again",
    responses: { 202: { description: "a confirmation email is on its way", schema: resendResultSchema } },
  },
} satisfies Record<string, RouteDoc>;
