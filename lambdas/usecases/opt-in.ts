import { createHash } from "node:crypto";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { MailingList } from "../adapters/list-store.ts";
import type { AwaitingConfirmation, SubscriberStore } from "../adapters/subscriber-store.ts";
import type { Campaign } from "../domain/campaign.ts";
import { CONFIRMATIONS_PER_SEND } from "../domain/opt-in.ts";
import { chunk } from "../shared/concurrency.ts";
import { type CampaignDeps, startCampaign } from "./campaign-workflows.ts";

export interface ConfirmationDeps extends CampaignDeps {
  readonly campaigns: CampaignStore;
  readonly subscribers: Pick<SubscriberStore, "optIn" | "get">;
  /** The address confirmation emails come from (the deployment's `fromAddress`). */
  readonly defaultFrom: string;
}

/**
 * Mails double opt-in confirmation emails to pending subscribers of `list`: a small system campaign
 * per CONFIRMATIONS_PER_SEND addresses, carrying the list's confirmation email as it is now, started
 * like any campaign. So a confirmation goes through the same ledger (sent once), queues, pacing,
 * failover and watch as a campaign, and waits out an SES outage in its queue. The fan-out mails the
 * campaign's `recipients` instead of the list; the sender mails only those still pending.
 *
 * A campaign's id is derived from its list, addresses and their `since`: a request retried after a
 * crash (a PUT, an import chunk delivered again) finds the same subscribers still awaiting and
 * starts the same campaign again, which changes nothing, instead of mailing them twice. Only once the
 * campaign is started are the subscribers marked as asked. Returns the campaigns' ids.
 */
export async function sendConfirmations(
  deps: ConfirmationDeps,
  list: MailingList,
  awaiting: readonly AwaitingConfirmation[],
  now: Date,
): Promise<string[]> {
  const confirmation = list.confirmation;
  if (list.optIn !== "double" || !confirmation || awaiting.length === 0) return [];
  const ids: string[] = [];
  const sorted = [...awaiting].sort((a, b) => a.email.localeCompare(b.email));
  for (const part of chunk(sorted, CONFIRMATIONS_PER_SEND)) {
    const at = now.toISOString();
    const recipients = part.map((a) => a.email);
    const campaign: Campaign = {
      id: confirmationCampaignId(list.id, part),
      purpose: "confirmation",
      listId: list.id,
      recipients,
      confirmation: { version: confirmation.version, expiresInHours: confirmation.expiresInHours },
      from: deps.defaultFrom,
      subject: confirmation.subject,
      html: confirmation.html,
      ...(confirmation.text !== undefined ? { text: confirmation.text } : {}),
      status: "draft",
      createdAt: at,
      updatedAt: at,
    };
    const started = (await deps.campaigns.create(campaign))
      ? campaign
      : ((await deps.campaigns.get(campaign.id, true)) ?? campaign);
    await startCampaign(deps, started, at);
    await deps.subscribers.optIn.markRequested(list.id, recipients, at);
    ids.push(campaign.id);
  }
  return ids;
}

/** The id of the confirmation campaign of these subscribers: the same for the same request. */
function confirmationCampaignId(listId: string, part: readonly AwaitingConfirmation[]): string {
  const hash = createHash("sha256").update(listId);
  for (const { email, since } of part) hash.update(`\n${email}\n${since}`);
  return `confirm-${hash.digest("hex").slice(0, 32)}`;
}
