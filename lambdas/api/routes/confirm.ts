import { ConflictError, ValidationError } from "../../domain/errors.ts";
import { type ConfirmationClaims, verifyConfirmationToken } from "../../domain/link-token.ts";
import { escapeHtml, htmlToText } from "../../domain/render.ts";
import type { Deps, RouteHandler } from "../context.ts";
import { header, type HttpEvent } from "../http.ts";
import { ApiError } from "../http-errors.ts";
import { formText, page } from "../pages.ts";
import type { RouteDoc } from "../router.ts";

/** The claims of a genuine, unexpired confirmation link; 400 naming `path.token` otherwise. */
function claimsOf(params: Record<string, string>, secret: string, nowMs: number): ConfirmationClaims {
  const claims = verifyConfirmationToken(secret, params.token ?? "");
  if (!claims)
    throw new ApiError(400, "invalid_token", "this confirmation link is not valid", [
      { path: "path.token", message: "not a valid confirmation token" },
    ]);
  if (claims.expiresAt * 1000 < nowMs)
    throw new ApiError(400, "link_expired", "this confirmation link has expired: ask for a new one", [
      { path: "path.token", message: "expired" },
    ]);
  return claims;
}

/** The list a link names; a link to a list deleted since is no longer valid. */
async function listOf(claims: ConfirmationClaims, deps: Deps) {
  const list = await deps.lists.get(claims.listId, true);
  if (!list)
    throw new ApiError(400, "invalid_token", "this confirmation link is no longer valid", [
      { path: "path.token", message: "its list is gone" },
    ]);
  return list;
}

/**
 * GET /c/{token}: the confirmation page of a double opt-in link, with a button. A GET never
 * confirms: mail scanners and link previewers follow every link.
 */
export const confirmationPage: RouteHandler = async (_event, params, deps) => {
  const claims = claimsOf(params, await deps.unsubscribeSecret(), deps.now().getTime());
  const list = await listOf(claims, deps);
  return page(
    200,
    "Confirm your subscription",
    `<p>Do you want to receive emails from <strong>${escapeHtml(list.name)}</strong>?</p>
<form method="post"><input type="hidden" name="confirm" value="yes"><button type="submit">Yes, subscribe me</button></form>`,
  );
};

/**
 * POST /c/{token} (`confirm=yes`): `pending → subscribed`, recording the proof of consent: when,
 * the request's address and user agent, and the confirmation email the person confirmed, as it read.
 * Repeating it is harmless.
 */
export const confirmSubscription: RouteHandler = async (event, params, deps) => {
  const claims = claimsOf(params, await deps.unsubscribeSecret(), deps.now().getTime());
  if (!isConfirmBody(event))
    throw new ValidationError("body.confirm: must be yes", [
      { path: "body.confirm", message: "must be yes" },
    ]);
  const list = await listOf(claims, deps);
  const mailed =
    list.confirmationHistory?.find((v) => v.version === claims.version) ??
    (list.confirmation?.version === claims.version ? list.confirmation : undefined);
  const outcome = await deps.subscribers.optIn.confirm(
    claims.listId,
    claims.email,
    {
      source: "double-opt-in",
      at: deps.now().toISOString(),
      ip: event.requestContext?.http?.sourceIp ?? "",
      userAgent: (header(event, "user-agent") ?? "").slice(0, 500),
      confirmation: {
        version: claims.version,
        subject: mailed?.subject ?? "",
        text: mailed ? (mailed.text ?? htmlToText(mailed.html)) : "",
      },
    },
    deps.now().toISOString(),
  );
  if (outcome === "absent")
    throw new ApiError(400, "invalid_token", "this confirmation link is no longer valid", [
      { path: "path.token", message: "the subscriber is gone" },
    ]);
  if (outcome === "not-pending")
    throw new ConflictError("this subscription is not waiting for a confirmation (it was unsubscribed)");
  return page(
    200,
    "You are subscribed",
    `<p>Thank you: you will receive emails from <strong>${escapeHtml(list.name)}</strong>.</p>`,
  );
};

function isConfirmBody(event: HttpEvent): boolean {
  const contentType = (header(event, "content-type") ?? "").toLowerCase();
  if (!contentType.startsWith("application/x-www-form-urlencoded")) return false;
  const form = new URLSearchParams(formText(event));
  return [...form.keys()].every((key) => key === "confirm") && form.getAll("confirm").join() === "yes";
}

export const docs = {
  confirmationPage: {
    summary: "Double opt-in confirmation page (never confirms by itself)",
    responses: { 200: { description: "an HTML page with a confirm button" } },
  },
  confirmSubscription: {
    summary: "Confirm a double opt-in subscription: body confirm=yes",
    bodyContentType: "application/x-www-form-urlencoded",
    responses: { 200: { description: "subscribed (repeating is harmless)" } },
  },
} satisfies Record<string, RouteDoc>;
