import { SES_EVENT_SOURCE, SES_EVENT_TYPES, type SesEventType } from "../contracts/events.ts";

/**
 * SES event publishing records (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html),
 * as they arrive on the feedback queue: inside an EventBridge event (`detail`), inside an SNS
 * notification (`Message`, when raw delivery is off), or bare. Parsing is pure and total: anything
 * that is not an SES event comes back as an error string, never an exception.
 */

interface SesMail {
  readonly messageId: string;
  readonly timestamp?: string;
  readonly destination: readonly string[];
  readonly tags: Readonly<Record<string, readonly string[]>>;
}

export interface FeedbackEvent {
  readonly type: SesEventType;
  readonly mail: SesMail;
  /** When the event happened (the event's own timestamp, else the mail's). */
  readonly at?: string;
  readonly bounce?: {
    readonly bounceType: string;
    readonly bounceSubType: string;
    readonly recipients: readonly string[];
    readonly diagnostic?: string;
  };
  readonly complaint?: { readonly recipients: readonly string[]; readonly feedbackType?: string };
  readonly click?: { readonly link?: string };
  /** Who opened or clicked (Open and Click events): kept only as a person-or-machine judgement. */
  readonly agent?: { readonly userAgent?: string; readonly ipAddress?: string };
  readonly reject?: { readonly reason?: string };
  readonly failure?: { readonly errorMessage?: string };
  readonly deliveryDelay?: { readonly delayType?: string };
}

export type ParseResult = { ok: true; event: FeedbackEvent } | { ok: false; error: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/** Parses one queue message body. */
export function parseFeedbackMessage(body: string): ParseResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { ok: false, error: "message body is not JSON" };
  }
  return parseFeedbackRecord(unwrap(parsed));
}

/** The SES record inside an EventBridge or SNS envelope (or the value itself). */
function unwrap(value: unknown): unknown {
  if (!isObject(value)) return value;
  if (value.source === SES_EVENT_SOURCE && isObject(value.detail)) return value.detail;
  if (value.Type === "Notification" && typeof value.Message === "string") {
    try {
      return JSON.parse(value.Message);
    } catch {
      return undefined;
    }
  }
  return value;
}

function parseFeedbackRecord(value: unknown): ParseResult {
  if (!isObject(value)) return { ok: false, error: "not an SES event object" };
  // `notificationType` is the older feedback-notification name of the same field.
  const type = str(value.eventType) ?? str(value.notificationType);
  if (!type) return { ok: false, error: "no eventType" };
  if (!(SES_EVENT_TYPES as readonly string[]).includes(type))
    return { ok: false, error: `unknown eventType ${type.slice(0, 40)}` };
  const mail = value.mail;
  if (!isObject(mail) || !str(mail.messageId)) return { ok: false, error: "no mail.messageId" };
  const tags: Record<string, string[]> = {};
  if (isObject(mail.tags)) for (const [k, v] of Object.entries(mail.tags)) tags[k] = strings(v);
  const event: {
    -readonly [K in keyof FeedbackEvent]: FeedbackEvent[K];
  } = {
    type: type as SesEventType,
    mail: {
      messageId: mail.messageId as string,
      ...(str(mail.timestamp) ? { timestamp: mail.timestamp as string } : {}),
      destination: strings(mail.destination),
      tags,
    },
  };
  const detail = (key: string): Json => (isObject(value[key]) ? value[key] : {});
  switch (event.type) {
    case "Bounce": {
      const b = detail("bounce");
      const bounceType = str(b.bounceType);
      if (!bounceType) return { ok: false, error: "Bounce without bounce.bounceType" };
      const recipients = Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients.filter(isObject) : [];
      const first = recipients[0];
      event.bounce = {
        bounceType,
        bounceSubType: str(b.bounceSubType) ?? "Undetermined",
        recipients: recipients.map((r) => str(r.emailAddress)).filter((e): e is string => !!e),
        ...(first && str(first.diagnosticCode)
          ? { diagnostic: (first.diagnosticCode as string).slice(0, 300) }
          : {}),
      };
      event.at = str(b.timestamp);
      break;
    }
    case "Complaint": {
      const c = detail("complaint");
      const recipients = Array.isArray(c.complainedRecipients) ? c.complainedRecipients.filter(isObject) : [];
      event.complaint = {
        recipients: recipients.map((r) => str(r.emailAddress)).filter((e): e is string => !!e),
        ...(str(c.complaintFeedbackType) ? { feedbackType: c.complaintFeedbackType as string } : {}),
      };
      event.at = str(c.timestamp);
      break;
    }
    case "Delivery":
      event.at = str(detail("delivery").timestamp);
      break;
    case "Open": {
      const o = detail("open");
      event.agent = agentOf(o);
      event.at = str(o.timestamp);
      break;
    }
    case "Click": {
      const c = detail("click");
      event.click = str(c.link) ? { link: (c.link as string).slice(0, 500) } : {};
      event.agent = agentOf(c);
      event.at = str(c.timestamp);
      break;
    }
    case "Reject":
      event.reject = str(detail("reject").reason)
        ? { reason: (detail("reject").reason as string).slice(0, 300) }
        : {};
      break;
    case "Rendering Failure": {
      const f = detail("failure");
      event.failure = str(f.errorMessage) ? { errorMessage: (f.errorMessage as string).slice(0, 300) } : {};
      break;
    }
    case "DeliveryDelay": {
      const d = detail("deliveryDelay");
      event.deliveryDelay = str(d.delayType) ? { delayType: d.delayType as string } : {};
      event.at = str(d.timestamp);
      break;
    }
    case "Send":
    case "Subscription":
      break;
  }
  if (!event.at && event.mail.timestamp) event.at = event.mail.timestamp;
  return { ok: true, event };
}

/**
 * A permanent bounce (the address does not exist, or SES's suppression list) or any complaint means
 * the address must never be mailed again (ARCHITECTURE promise 6). Transient and undetermined
 * bounces do not suppress: SES has already retried those.
 */
export function suppressionFor(
  event: FeedbackEvent,
): { reason: "bounce" | "complaint"; emails: string[] } | undefined {
  if (event.type === "Bounce" && event.bounce?.bounceType === "Permanent") {
    const emails = event.bounce.recipients.length > 0 ? event.bounce.recipients : event.mail.destination;
    return { reason: "bounce", emails: [...emails] };
  }
  if (event.type === "Complaint") {
    const emails = event.complaint?.recipients.length ? event.complaint.recipients : event.mail.destination;
    return { reason: "complaint", emails: [...emails] };
  }
  return undefined;
}

function agentOf(detail: Json): { userAgent?: string; ipAddress?: string } {
  return {
    ...(str(detail.userAgent) ? { userAgent: (detail.userAgent as string).slice(0, 300) } : {}),
    ...(str(detail.ipAddress) ? { ipAddress: (detail.ipAddress as string).slice(0, 64) } : {}),
  };
}
