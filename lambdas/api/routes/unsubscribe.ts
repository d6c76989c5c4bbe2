import { ValidationError } from "../../domain/errors.ts";
import { escapeHtml } from "../../domain/render.ts";
import { recipientEvent, subscriberEvent } from "../../domain/webhook-event.ts";
import type { RouteHandler } from "../context.ts";
import { header, type HttpEvent } from "../http.ts";
import { claimsOf, formText, page } from "../pages.ts";
import type { RouteDoc } from "../router.ts";

/**
 * GET /u/{token}: a confirmation page with a button. A GET never unsubscribes: mail scanners and
 * link previewers follow every link (RFC 8058 §4 asks for POST for that reason).
 */
export const unsubscribePage: RouteHandler = async (_event, params, deps) => {
  await claimsOf(params, await deps.unsubscribeSecret());
  return page(
    200,
    "Unsubscribe",
    `<p>Stop receiving emails from this list?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
<p><a href="../p/${escapeHtml(params.token ?? "")}">Choose which lists to stay on instead</a></p>`,
  );
};

/**
 * POST /u/{token} with `List-Unsubscribe=One-Click` (RFC 8058 §3.2): unsubscribes at once and
 * answers 200, with no redirect, no cookie and no API key. Repeating it is harmless.
 */
export const unsubscribeOneClick: RouteHandler = async (event, params, deps) => {
  const claims = await claimsOf(params, await deps.unsubscribeSecret());
  if (!isOneClickBody(event)) {
    throw new ValidationError("body must be List-Unsubscribe=One-Click", [
      { path: "body.List-Unsubscribe", message: "must be One-Click" },
    ]);
  }
  // Counted once on the campaign the link came from (in this region's counter item), in the same
  // write as the status change.
  const now = deps.now().toISOString();
  const outcome = await deps.subscribers.unsubscribe(
    claims.listId,
    claims.email,
    now,
    claims.campaignId ? deps.counters.increment(claims.campaignId, { unsubscribed: 1 }) : undefined,
  );
  if (outcome === "unsubscribed")
    await deps.events.flush([
      subscriberEvent("subscriber.unsubscribed", claims.listId, claims.email, now, {
        source: "unsubscribe-link",
      }),
      ...(claims.campaignId
        ? [
            recipientEvent("recipient.unsubscribed", {
              campaignId: claims.campaignId,
              email: claims.email,
              at: now,
              discriminator: now,
              details: { listId: claims.listId },
            }),
          ]
        : []),
    ]);
  return page(200, "You are unsubscribed", "<p>You will not receive further emails from this list.</p>");
};

/** Accepts the form encodings RFC 8058 §3.2 allows: urlencoded or multipart/form-data. */
function isOneClickBody(event: HttpEvent): boolean {
  const text = formText(event);
  const contentType = (header(event, "content-type") ?? "").toLowerCase();
  if (contentType.startsWith("multipart/form-data")) {
    return /name="?List-Unsubscribe"?\s*\r?\n(?:[^\r\n]+\r?\n)*\r?\n\s*One-Click\s*\r?\n/i.test(text);
  }
  return new URLSearchParams(text.trim()).get("List-Unsubscribe") === "One-Click";
}

export const docs = {
  unsubscribePage: {
    summary: "Unsubscribe confirmation page (never unsubscribes by itself)",
    responses: { 200: { description: "an HTML page with a confirm button" } },
  },
  unsubscribeOneClick: {
    summary: "One-click unsubscribe (RFC 8058): body List-Unsubscribe=One-Click",
    bodyContentType: "application/x-www-form-urlencoded",
    responses: { 200: { description: "unsubscribed (repeating is harmless)" } },
  },
} satisfies Record<string, RouteDoc>;
