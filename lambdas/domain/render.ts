import { CONFIRM_TAG } from "./opt-in.ts";

/**
 * Merge tags: `{{email}}`, `{{attributes.NAME}}`, `{{attributes.NAME | "default"}}` and
 * `{{unsubscribeUrl}}` (the recipient's one-click unsubscribe link), and in double opt-in confirmation
 * emails `{{confirmUrl}}`.
 * Values are HTML-escaped when rendered into the HTML part; subject and text get them as they are
 * (a subject cannot carry CR/LF: values are flattened to one line there).
 */
type AttributeValue = string | number | boolean;
export type Attributes = Readonly<Record<string, AttributeValue>>;

export interface MergeContext {
  readonly email: string;
  readonly attributes: Attributes;
  /** Rendered by `{{unsubscribeUrl}}`. */
  readonly unsubscribeUrl?: string;
  /** Rendered by `{{confirmUrl}}` (double opt-in confirmation emails only). */
  readonly confirmUrl?: string;
}

/** The tag that renders the recipient's unsubscribe link. */
const UNSUBSCRIBE_TAG = "unsubscribeUrl";

const TAG = /\{\{\s*([^{}|]*?)\s*(?:\|\s*"([^"]*)"\s*)?\}\}/g;
const ATTRIBUTE_TAG = /^attributes\.([A-Za-z_][A-Za-z0-9_-]{0,63})$/;

/**
 * Returns the tags a template uses that are not merge tags this renderer knows; `extra` names tags
 * only some templates have (`confirmUrl` in a confirmation email).
 */
export function unknownTags(template: string, extra: readonly string[] = []): string[] {
  const unknown: string[] = [];
  for (const match of template.matchAll(TAG)) {
    const name = match[1] ?? "";
    if (name !== "email" && name !== UNSUBSCRIBE_TAG && !extra.includes(name) && !ATTRIBUTE_TAG.test(name))
      unknown.push(name);
  }
  return unknown;
}

/** Whether a template uses merge tag `name` somewhere. */
export function usesTag(template: string, name: string): boolean {
  for (const match of template.matchAll(TAG)) if (match[1] === name) return true;
  return false;
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export type RenderMode = "html" | "text" | "header";

export function renderTemplate(template: string, ctx: MergeContext, mode: RenderMode): string {
  return template.replace(TAG, (whole, rawName: string, fallback: string | undefined) => {
    const name = rawName ?? "";
    let value: string | undefined;
    if (name === "email") value = ctx.email;
    else if (name === UNSUBSCRIBE_TAG) value = ctx.unsubscribeUrl;
    else if (name === CONFIRM_TAG && ctx.confirmUrl !== undefined) value = ctx.confirmUrl;
    else {
      const attr = ATTRIBUTE_TAG.exec(name);
      if (!attr) return whole;
      const raw = ctx.attributes[attr[1] as string];
      value = raw === undefined || raw === "" ? fallback : String(raw);
    }
    value ??= "";
    if (mode === "html") return escapeHtml(value);
    if (mode === "header") return value.replace(/[\r\n]+/g, " ");
    return value;
  });
}

/** Whether a template renders the unsubscribe link somewhere. */
export function hasUnsubscribeTag(template: string): boolean {
  return usesTag(template, UNSUBSCRIBE_TAG);
}

/** A readable text part for clients that do not render HTML, when the campaign has none. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, "$2 ($1)")
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
