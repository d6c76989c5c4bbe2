import { escapeHtml } from "../domain/render.ts";
import { type UnsubscribeClaims, verifyUnsubscribeToken } from "../domain/link-token.ts";
import type { HttpEvent, HttpResult } from "./http.ts";
import { ApiError } from "./http-errors.ts";

/**
 * The HTML pages served to people from a mailed link (unsubscribe, preference center): plain HTML
 * with inline styles only, no external assets, every value escaped.
 */

/** Largest form body read (an unsubscribe or preferences form is at most a few KB). */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * No caching, no framing, no referrer (the URL is a credential), and a policy that allows nothing
 * but inline styles, links and posting back to this site.
 */
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
};

/** A page titled `title` around `body`, which must already be escaped HTML. */
export function page(status: number, title: string, body: string): HttpResult {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#111}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #111;background:#111;color:#fff;cursor:pointer}
label{display:block;margin:.5rem 0}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  return { statusCode: status, headers: PAGE_HEADERS, body: html };
}

/** The claims of the path's token; 400 naming `path.token` when it is forged, altered or junk. */
export async function claimsOf(params: Record<string, string>, secret: string): Promise<UnsubscribeClaims> {
  const claims = verifyUnsubscribeToken(secret, params.token ?? "");
  if (!claims) {
    throw new ApiError(400, "invalid_token", "this link is not valid", [
      { path: "path.token", message: "not a valid unsubscribe token" },
    ]);
  }
  return claims;
}

/** A form's body as text; 413 beyond `MAX_FORM_BYTES`. */
export function formText(event: HttpEvent): string {
  const raw = event.body ?? "";
  const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  if (Buffer.byteLength(text, "utf8") > MAX_FORM_BYTES)
    throw new ApiError(413, "payload_too_large", `body must be at most ${MAX_FORM_BYTES} bytes`);
  return text;
}
