import type { SendRecipient } from "../adapters/queue.ts";
import type { OutgoingEmail } from "../adapters/ses-sender.ts";
import type { Campaign } from "../domain/campaign.ts";
import { htmlToText, renderTemplate } from "../domain/render.ts";

/** Builds one recipient's email from the campaign: merge tags rendered per part. */
export function composeEmail(campaign: Campaign, recipient: SendRecipient): OutgoingEmail {
  const ctx = { email: recipient.email, attributes: recipient.attributes };
  return {
    from: campaign.from,
    to: recipient.email,
    campaignId: campaign.id,
    ...(campaign.replyTo ? { replyTo: campaign.replyTo } : {}),
    subject: renderTemplate(campaign.subject, ctx, "header"),
    html: renderTemplate(campaign.html, ctx, "html"),
    text: renderTemplate(campaign.text ?? htmlToText(campaign.html), ctx, "text"),
  };
}
