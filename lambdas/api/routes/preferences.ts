import { ValidationError } from "../../domain/errors.ts";
import { escapeHtml } from "../../domain/render.ts";
import { preferenceEvents } from "../../domain/webhook-event.ts";
import { applyPreferences, type Preferences, preferencesOf, togglable } from "../../usecases/preferences.ts";
import type { RouteHandler } from "../context.ts";
import { header, type HttpResult } from "../http.ts";
import { claimsOf, formText, page } from "../pages.ts";
import type { RouteDoc } from "../router.ts";

/** The fields the preferences form posts. */
const FIELDS = new Set(["list", "everything"]);

/**
 * GET /p/{token}: the preference center of the address a mailed link names, with a toggle for every
 * list it is on and "unsubscribe from everything". A GET changes nothing (link scanners follow
 * links); the form posts back to the same URL.
 */
export const preferencesPage: RouteHandler = async (_event, params, deps) => {
  const claims = await claimsOf(params, await deps.unsubscribeSecret());
  return preferencesForm(200, "Your email preferences", await preferencesOf(deps, claims.email));
};

/**
 * POST /p/{token} (application/x-www-form-urlencoded): `list=<id>` for each list to be on, and
 * `everything=1` to receive nothing at all. A list the address is not on, or any other field, is a
 * 400 that changes nothing.
 */
export const savePreferences: RouteHandler = async (event, params, deps) => {
  const claims = await claimsOf(params, await deps.unsubscribeSecret());
  const contentType = (header(event, "content-type") ?? "").toLowerCase();
  if (!contentType.startsWith("application/x-www-form-urlencoded"))
    throw new ValidationError("header.content-type: must be application/x-www-form-urlencoded", [
      { path: "header.content-type", message: "must be application/x-www-form-urlencoded" },
    ]);
  const form = new URLSearchParams(formText(event));
  const current = await preferencesOf(deps, claims.email);
  const issues: { path: string; message: string }[] = [];
  for (const name of new Set(form.keys()))
    if (!FIELDS.has(name)) issues.push({ path: `body.${name}`, message: "not a field of this form" });
  const onLists = new Map(current.lists.map((list) => [list.listId, list]));
  const chosen = new Set(form.getAll("list"));
  for (const id of chosen)
    if (!onLists.has(id)) issues.push({ path: "body.list", message: "names a list the address is not on" });
  const everything = form.getAll("everything");
  if (everything.length > 1 || (everything.length === 1 && everything[0] !== "1"))
    issues.push({ path: "body.everything", message: "must be 1 when present" });
  if (issues.length > 0) throw new ValidationError(`${issues[0]?.path}: ${issues[0]?.message}`, issues);

  const now = deps.now().toISOString();
  const saved = await applyPreferences(
    deps,
    claims,
    current,
    { subscribed: chosen, everything: everything[0] === "1" },
    now,
  );
  await deps.events.flush(preferenceEvents(claims, current.lists, saved.lists, now));
  return preferencesForm(200, "Your preferences are saved", saved);
};

function preferencesForm(status: number, title: string, preferences: Preferences): HttpResult {
  const rows = preferences.lists
    .map((list) => {
      const id = escapeHtml(list.listId);
      const name = escapeHtml(list.listName || list.listId);
      if (!togglable(list.status))
        return `<label><input type="checkbox" disabled> ${name} (not mailed: ${escapeHtml(list.status)})</label>`;
      const checked = list.status === "subscribed" ? " checked" : "";
      return `<label><input type="checkbox" name="list" value="${id}"${checked}> ${name}</label>`;
    })
    .join("\n");
  const suppressed =
    preferences.suppression !== undefined
      ? "<p><strong>You currently receive no email from us at all.</strong> Choose lists below to receive them again.</p>"
      : "";
  return page(
    status,
    title,
    `${suppressed}<form method="post">
<fieldset><legend>Lists you are on</legend>
${rows || "<p>You are not on any list.</p>"}
</fieldset>
<label><input type="checkbox" name="everything" value="1"> Unsubscribe from everything</label>
<button type="submit">Save</button></form>`,
  );
}

export const docs = {
  preferencesPage: {
    summary: "Preference center: every list the address is on, with a toggle each (changes nothing)",
    responses: { 200: { description: "an HTML page with the form" } },
  },
  savePreferences: {
    summary: "Save preferences: list=<id> for each list to stay on, everything=1 to receive nothing",
    bodyContentType: "application/x-www-form-urlencoded",
    responses: { 200: { description: "saved; the page shows the new state" } },
  },
} satisfies Record<string, RouteDoc>;
