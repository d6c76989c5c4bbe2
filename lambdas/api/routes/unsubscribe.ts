import { ValidationError } from "../../domain/errors.ts";
import { escapeHtml } from "../../domain/render.ts";
import { verifyUnsubscribeToken, type UnsubscribeClaims } from "../../domain/unsubscribe-token.ts";
import type { RouteHandler } from "../context.ts";
import { header, type HttpEvent, type HttpResult } from "../http.ts";
import { ApiError } from "../http-errors.ts";
import type { RouteDoc } from "../router.ts";

/** Largest one-click POST body read (RFC 8058 bodies are a few dozen bytes). */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * Pages served to people: no caching, no framing, no referrer (the URL is a credential), and a
 * policy that allows nothing but inline styles and posting back to this page.
 */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
};

function page(status: number, title: string, body: string): HttpResult {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#111}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #111;background:#111;color:#fff;cursor:pointer}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return { statusCode: status, headers: PAGE_HEADERS, body: html };
}

async function claimsOf(params: Record<string, string>, secret: string): Promise<UnsubscribeClaims> {
  const claims = verifyUnsubscribeToken(secret, params.token ?? "");
  if (!claims) {
    throw new ApiError(400, "invalid_token", "this unsubscribe link is not valid", [
      { path: "path.token", message: "not a valid unsubscribe token" },
    ]);
  }
  return claims;
}

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
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
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
  await deps.subscribers.unsubscribe(
    claims.listId,
    claims.email,
    deps.now().toISOString(),
    claims.campaignId ? deps.counters.increment(claims.campaignId, { unsubscribed: 1 }) : undefined,
  );
  return page(200, "You are unsubscribed", "<p>You will not receive further emails from this list.</p>");
};

/** Accepts the form encodings RFC 8058 §3.2 allows: urlencoded or multipart/form-data. */
function isOneClickBody(event: HttpEvent): boolean {
  const raw = event.body ?? "";
  const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  if (Buffer.byteLength(text, "utf8") > MAX_FORM_BYTES)
    throw new ApiError(413, "payload_too_large", `body must be at most ${MAX_FORM_BYTES} bytes`);
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
