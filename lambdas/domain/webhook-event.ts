import { createHash } from "node:crypto";
import type { WebhookEvent, WebhookEventType } from "../contracts/webhook-events.ts";
import { isMachineAgent } from "./engagement.ts";
import type { FeedbackEvent } from "./feedback-event.ts";

/**
 * An event's id, derived from the fact it reports (its type and what names the fact), so that a
 * fact published twice (a retried batch, a duplicate SES event) is the same event for receivers.
 */
export function webhookEventId(type: WebhookEventType, ...fact: readonly string[]): string {
  return `evt_${createHash("sha256")
    .update([type, ...fact].join("\u0000"))
    .digest("hex")
    .slice(0, 32)}`;
}

/** What a recipient event reports: the campaign, the address, and what SES said about it. */
export interface RecipientFact {
  readonly campaignId: string;
  readonly email: string;
  readonly at: string;
  readonly sesMessageId?: string;
  readonly region?: string;
  /** More data for the event (a bounce's type, a clicked link, a failure's error, …). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** What tells this fact apart from another of the same type for the recipient (an open's time). */
  readonly discriminator?: string;
}

export function recipientEvent(
  type: Extract<WebhookEventType, `recipient.${string}`>,
  fact: RecipientFact,
): WebhookEvent {
  return {
    id: webhookEventId(type, fact.campaignId, fact.email, fact.discriminator ?? ""),
    type,
    createdAt: fact.at,
    data: {
      campaignId: fact.campaignId,
      email: fact.email,
      sesMessageId: fact.sesMessageId ?? null,
      region: fact.region ?? null,
      ...fact.details,
    },
  };
}

/** A subscriber's change on a list; `at` tells two changes of one kind apart. */
export function subscriberEvent(
  type: Extract<WebhookEventType, `subscriber.${string}`>,
  listId: string,
  email: string,
  at: string,
  details: Readonly<Record<string, unknown>> = {},
): WebhookEvent {
  return {
    id: webhookEventId(type, listId, email, at),
    type,
    createdAt: at,
    data: { listId, email, ...details },
  };
}

/** Subscriber events of a write to a list: `subscriber.created` for the new, `.updated` for the rest. */
export function upsertEvents(
  listId: string,
  written: { readonly created: readonly string[]; readonly updated: readonly string[] },
  at: string,
  source: string,
): WebhookEvent[] {
  return [
    ...written.created.map((email) => subscriberEvent("subscriber.created", listId, email, at, { source })),
    ...written.updated.map((email) => subscriberEvent("subscriber.updated", listId, email, at, { source })),
  ];
}

/** An import that finished: every chunk stored. */
export function importCompletedEvent(
  importId: string,
  job: { readonly listId: string; readonly processed: number; readonly imported: number },
  at: string,
): WebhookEvent {
  return {
    id: webhookEventId("import.completed", importId),
    type: "import.completed",
    createdAt: at,
    data: { importId, listId: job.listId, rows: job.processed, imported: job.imported },
  };
}

/**
 * The events of a save on the preference center: `subscriber.unsubscribed` for each list switched
 * off (and `recipient.unsubscribed` when it is the mailed campaign's list), `subscriber.updated`
 * for each list switched back on.
 */
export function preferenceEvents(
  link: { readonly email: string; readonly listId: string; readonly campaignId?: string },
  before: readonly { readonly listId: string; readonly status: string }[],
  after: readonly { readonly listId: string; readonly status: string }[],
  at: string,
): WebhookEvent[] {
  const was = new Map(before.map((list) => [list.listId, list.status]));
  return after.flatMap((list) => {
    const previous = was.get(list.listId);
    if (previous === list.status) return [];
    const source = { source: "preference-center" };
    if (list.status === "subscribed")
      return [
        subscriberEvent("subscriber.updated", list.listId, link.email, at, {
          ...source,
          status: "subscribed",
        }),
      ];
    if (previous !== "subscribed") return [];
    const counted = link.campaignId !== undefined && link.listId === list.listId;
    return [
      subscriberEvent("subscriber.unsubscribed", list.listId, link.email, at, source),
      ...(counted
        ? [
            recipientEvent("recipient.unsubscribed", {
              campaignId: link.campaignId,
              email: link.email,
              at,
              discriminator: at,
              details: { listId: list.listId },
            }),
          ]
        : []),
    ];
  });
}

/** A campaign's status change: each change is one event (its time tells two `paused` apart). */
export function campaignStatusEvent(campaignId: string, status: string, at: string): WebhookEvent {
  return {
    id: webhookEventId("campaign.status_changed", campaignId, status, at),
    type: "campaign.status_changed",
    createdAt: at,
    data: { campaignId, status },
  };
}

/** A recipient's ledger record as the sender wrote it (now, or before: a redelivered message). */
export interface RecipientOutcome {
  readonly status: string;
  readonly campaignId: string;
  readonly email: string;
  readonly at: string;
  readonly sesMessageId?: string;
  readonly region?: string;
  readonly error?: string;
  readonly reason?: string;
}

/**
 * The sender's event of a terminal record: `recipient.sent`, `.failed` or `.suppressed` (none for
 * other statuses). The same record always makes the same event, so a sender that meets a record
 * written before (its message came back) publishes it again, harmlessly.
 */
export function outcomeEvent(outcome: RecipientOutcome): WebhookEvent | undefined {
  const fact = {
    campaignId: outcome.campaignId,
    email: outcome.email,
    at: outcome.at,
    ...(outcome.sesMessageId ? { sesMessageId: outcome.sesMessageId } : {}),
    ...(outcome.region ? { region: outcome.region } : {}),
  };
  switch (outcome.status) {
    case "sent":
      return recipientEvent("recipient.sent", fact);
    case "failed":
      return recipientEvent("recipient.failed", { ...fact, details: { error: outcome.error ?? null } });
    case "suppressed":
      return recipientEvent("recipient.suppressed", { ...fact, details: { reason: outcome.reason ?? null } });
    default:
      return undefined;
  }
}

/**
 * The webhook event an SES event recorded on a recipient's ledger item makes, if any: deliveries,
 * bounces, complaints, opens and clicks (the Send event is the sender's `recipient.sent`).
 */
export function feedbackWebhookEvent(
  event: FeedbackEvent,
  campaignId: string,
  email: string,
  region: string,
): WebhookEvent | undefined {
  const at = event.at ?? event.mail.timestamp ?? new Date().toISOString();
  const fact = { campaignId, email, at, sesMessageId: event.mail.messageId, region };
  const machine = isMachineAgent(event.agent?.userAgent, event.agent?.ipAddress);
  switch (event.type) {
    case "Delivery":
      return recipientEvent("recipient.delivered", fact);
    case "Bounce":
      return recipientEvent("recipient.bounced", {
        ...fact,
        discriminator: at,
        details: {
          bounceType: event.bounce?.bounceType ?? null,
          bounceSubType: event.bounce?.bounceSubType ?? null,
        },
      });
    case "Complaint":
      return recipientEvent("recipient.complained", {
        ...fact,
        details: { feedbackType: event.complaint?.feedbackType ?? null },
      });
    case "Open":
      return recipientEvent("recipient.opened", { ...fact, discriminator: at, details: { machine } });
    case "Click":
      return recipientEvent("recipient.clicked", {
        ...fact,
        discriminator: `${at}|${event.click?.link ?? ""}`,
        details: { link: event.click?.link ?? null, machine },
      });
    default:
      return undefined;
  }
}
