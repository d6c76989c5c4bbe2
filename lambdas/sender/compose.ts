import type { SendRecipient } from "../contracts/messages.ts";
import type { OutgoingEmail } from "../adapters/ses-sender.ts";
import type { Campaign } from "../domain/campaign.ts";
import { hasUnsubscribeTag, htmlToText, renderTemplate } from "../domain/render.ts";
import {
  type ConfirmationClaims,
  confirmationUrl,
  signConfirmationToken,
  signUnsubscribeToken,
  type UnsubscribeClaims,
  unsubscribeUrl,
} from "../domain/link-token.ts";

/**
 * Makes the links of one recipient's email: the one-click unsubscribe URL, and in a double opt-in
 * confirmation email the confirmation URL.
 */
export interface UnsubscribeLinks {
  url(claims: UnsubscribeClaims): string;
  confirmUrl(claims: ConfirmationClaims): string;
}

/** Links to `{baseUrl}/u/{token}` and `{baseUrl}/c/{token}`, the tokens keyed by the unsubscribe secret. */
export function unsubscribeLinks(secret: string, baseUrl: string): UnsubscribeLinks {
  if (/[\r\n\s<>]/.test(baseUrl))
    throw new Error("the public API URL must not contain spaces, CR, LF, < or >");
  return {
    url: (claims) => unsubscribeUrl(baseUrl, signUnsubscribeToken(secret, claims)),
    confirmUrl: (claims) => confirmationUrl(baseUrl, signConfirmationToken(secret, claims)),
  };
}

let configured: UnsubscribeLinks | undefined;

/**
 * Sets the links every email composed from now on carries. The sender sets them once per container,
 * after reading the secret; without links (unit tests of the delivery logic) emails carry none.
 */
export function configureUnsubscribeLinks(links: UnsubscribeLinks | undefined): void {
  configured = links;
}

const HTML_FOOTER =
  '<p style="font-size:12px;color:#6b7280">Don\'t want these emails? <a href="{{unsubscribeUrl}}">Unsubscribe</a>.</p>';
const TEXT_FOOTER = "\n\n--\nUnsubscribe: {{unsubscribeUrl}}\n";

/**
 * Builds one recipient's email from the campaign: merge tags rendered per part, plus the
 * unsubscribe link. Bulk senders must offer one-click unsubscribe (RFC 8058): a `List-Unsubscribe`
 * header with exactly one HTTPS URL and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
 * (https://support.google.com/a/answer/81126, https://senders.yahooinc.com/best-practices/), and
 * a visible link in the body, appended when the template has no `{{unsubscribeUrl}}` tag.
 */
export function composeEmail(
  campaign: Campaign,
  recipient: SendRecipient,
  links: UnsubscribeLinks | undefined = configured,
  nowMs = Date.now(),
): OutgoingEmail {
  // A confirmation email asks once and is not a list's mail: it has no unsubscribe link, but the
  // confirmation link, which works for the list's `expiresInHours` from now.
  const confirmation = campaign.purpose === "confirmation" ? campaign.confirmation : undefined;
  const url = confirmation
    ? undefined
    : links?.url({ listId: campaign.listId, email: recipient.email, campaignId: campaign.id });
  const confirmUrl =
    confirmation &&
    links?.confirmUrl({
      listId: campaign.listId,
      email: recipient.email,
      expiresAt: Math.floor(nowMs / 1000) + confirmation.expiresInHours * 3600,
      version: confirmation.version,
    });
  const ctx = {
    email: recipient.email,
    attributes: recipient.attributes,
    ...(url ? { unsubscribeUrl: url } : {}),
    ...(confirmUrl ? { confirmUrl } : {}),
  };
  const html = url ? withFooter(campaign.html) : campaign.html;
  let text = campaign.text ?? htmlToText(html);
  if (url && !hasUnsubscribeTag(text)) text = `${text.replace(/\s+$/, "")}${TEXT_FOOTER}`;
  return {
    from: campaign.from,
    to: recipient.email,
    campaignId: campaign.id,
    ...(campaign.replyTo ? { replyTo: campaign.replyTo } : {}),
    subject: renderTemplate(campaign.subject, ctx, "header"),
    html: renderTemplate(html, ctx, "html"),
    text: renderTemplate(text, ctx, "text"),
    ...(url
      ? {
          headers: [
            // RFC 2369 §3.2: the URL in angle brackets; RFC 8058 §3.1: exactly one HTTPS URI.
            { name: "List-Unsubscribe", value: `<${url}>` },
            { name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click" },
          ],
        }
      : {}),
  };
}

function withFooter(html: string): string {
  if (hasUnsubscribeTag(html)) return html;
  const close = html.search(/<\/body\s*>/i);
  return close === -1
    ? `${html}\n${HTML_FOOTER}`
    : `${html.slice(0, close)}${HTML_FOOTER}\n${html.slice(close)}`;
}
