import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { chunk, mapLimit } from "../lambdas/shared/concurrency.ts";
import { SES_DETAIL_TYPES, SES_EVENT_SOURCE, type SesEventType } from "../lambdas/contracts/events.ts";
import type { StackTemplate } from "./assembly.ts";
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS } from "./local-account.ts";
import type { RegionRuntime } from "./runtime-types.ts";
import { feedbackQueueOf } from "./template-queries.ts";

/**
 * The local stand-in for SES event publishing and its mailbox simulator
 * (https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator).
 *
 * Every SendEmail the SES emulator accepts is seen through its fault proxy. For mailbox-simulator
 * recipients (`success@`, `bounce@`, `complaint@`, `ooto@`, `suppressionlist@`, each also with a
 * `+label`, at simulator.amazonses.com) it publishes the events real SES would, in the
 * event-publishing format inside the EventBridge envelope, straight onto the region's feedback
 * queue (the queue the SES EventBridge rule targets in the template):
 *
 *   success          Send, Delivery
 *   bounce           Send, Bounce (Permanent/General)
 *   complaint        Send, Delivery, Complaint (abuse)
 *   ooto             Send, Delivery (the auto-reply goes to the sender's inbox; SES publishes no event for it)
 *   suppressionlist  Send, Bounce (Permanent/OnAccountSuppressionList)
 *
 * Every other recipient gets Send and Delivery, as from real SES, so that the feedback path carries
 * its real load; with `sesEvents: "simulator"` they get none, so that a test's ordinary traffic
 * costs no feedback work. `inject` (POST {controlUrl}/feedback) publishes one event for any
 * accepted message.
 * The queue is reached directly, not through the app's SQS fault proxy: SES → EventBridge → SQS is
 * AWS's own path, which faults injected on the app's SQS endpoint do not touch.
 */
const SIMULATOR_DOMAIN = "simulator.amazonses.com";
export const INJECTABLE_TYPES = ["Open", "Click", "Bounce", "Complaint", "Delivery"] as const;
export type InjectableType = (typeof INJECTABLE_TYPES)[number];
export const REPLAYABLE_TYPES = ["Send", "Delivery", "Open"] as const;
export type ReplayableType = (typeof REPLAYABLE_TYPES)[number];

const SCRIPTS: Record<string, readonly SimulatedEvent[]> = {
  success: ["Send", "Delivery"],
  bounce: ["Send", "Bounce"],
  complaint: ["Send", "Delivery", "Complaint"],
  ooto: ["Send", "Delivery"],
  suppressionlist: ["Send", "SuppressionListBounce"],
};

type SimulatedEvent = SesEventType | "SuppressionListBounce";

/** What an injected event may say besides its type: when it happened, and an open or click's details. */
export interface EventDetails {
  readonly at?: string;
  readonly link?: string;
  readonly userAgent?: string;
  readonly ipAddress?: string;
}

/** What SES publishes for a message to an ordinary address that its server accepted. */
const ORDINARY: readonly SimulatedEvent[] = ["Send", "Delivery"];

/** Messages remembered for `inject`; the oldest are forgotten first. */
const REMEMBERED = 100_000;

interface SentMail {
  readonly region: string;
  readonly messageId: string;
  readonly timestamp: string;
  readonly source: string;
  readonly destination: string[];
  readonly subject: string;
  readonly configurationSet: string;
  readonly tags: Record<string, string[]>;
}

interface Target {
  readonly queueUrl: string;
  readonly client: SQSClient;
}

export class MailboxSimulator {
  private readonly sent = new Map<string, SentMail>();
  private readonly targets = new Map<string, Target>();
  /** Events published, for tests and the control API. */
  readonly stats = { published: 0, failed: 0 };

  constructor(
    regions: readonly RegionRuntime[],
    stacks: readonly StackTemplate[],
    sqsEndpoint: string,
    /** Which accepted messages get events (the control API changes it). */
    public events: "all" | "simulator" = "all",
  ) {
    for (const region of regions) {
      const stack = stacks.find((s) => s.region === region.name);
      const queueId = stack ? feedbackQueueOf(stack) : undefined;
      const queue = queueId ? region.queues.get(queueId) : undefined;
      if (!queue) continue;
      const client = new SQSClient({
        region: region.name,
        endpoint: sqsEndpoint,
        credentials: LOCAL_CREDENTIALS,
        useQueueUrlAsEndpoint: false,
      });
      this.targets.set(region.name, { queueUrl: queue.url, client });
      region.proxies.ses.onSesAccepted = (accepted) =>
        this.accepted(region.name, accepted.messageId, accepted.request);
    }
  }

  /**
   * Publishes one event for a message the SES emulator accepted, with the details given (an open or
   * click's time, link and agent); false when the id is unknown.
   */
  async inject(sesMessageId: string, type: InjectableType, details: EventDetails = {}): Promise<boolean> {
    const mail = this.sent.get(sesMessageId);
    if (!mail) return false;
    await this.publish(mail, type, details);
    return true;
  }

  /**
   * Publishes `types` for every message remembered, as fast as the queue takes them (batches of
   * 10): a burst of real feedback for measuring how fast it is processed. Returns how many events.
   */
  async replay(types: readonly ReplayableType[]): Promise<number> {
    const byRegion = new Map<string, SentMail[]>();
    for (const mail of this.sent.values()) {
      const mails = byRegion.get(mail.region) ?? [];
      mails.push(mail);
      byRegion.set(mail.region, mails);
    }
    let published = 0;
    for (const [region, mails] of byRegion) {
      const target = this.targets.get(region);
      if (!target) continue;
      const events = mails.flatMap((mail) => types.map((type) => envelope(mail, type, {})));
      await mapLimit(chunk(events, 10), 8, async (group) => {
        const out = await target.client.send(
          new SendMessageBatchCommand({
            QueueUrl: target.queueUrl,
            Entries: group.map((body, i) => ({ Id: String(i), MessageBody: JSON.stringify(body) })),
          }),
        );
        if (out.Failed?.length) throw new Error(`${out.Failed.length} events not published`);
        published += group.length;
      });
    }
    this.stats.published += published;
    return published;
  }

  private accepted(region: string, messageId: string, request: Buffer): void {
    let body: {
      FromEmailAddress?: string;
      Destination?: { ToAddresses?: string[] };
      ConfigurationSetName?: string;
      EmailTags?: { Name: string; Value: string }[];
      Content?: { Simple?: { Subject?: { Data?: string } } };
    };
    try {
      body = JSON.parse(request.toString("utf8")) as typeof body;
    } catch {
      return;
    }
    const configurationSet = body.ConfigurationSetName ?? "";
    const source = body.FromEmailAddress ?? "";
    const mail: SentMail = {
      region,
      messageId,
      timestamp: new Date().toISOString(),
      source,
      destination: body.Destination?.ToAddresses ?? [],
      subject: body.Content?.Simple?.Subject?.Data ?? "",
      configurationSet,
      tags: {
        "ses:configuration-set": [configurationSet],
        "ses:source-ip": ["127.0.0.1"],
        "ses:from-domain": [source.slice(source.lastIndexOf("@") + 1)],
        "ses:caller-identity": ["local"],
        ...Object.fromEntries((body.EmailTags ?? []).map((t) => [t.Name, [t.Value]])),
      },
    };
    this.sent.set(messageId, mail);
    if (this.sent.size > REMEMBERED) this.sent.delete(this.sent.keys().next().value as string);
    const script = scriptFor(mail.destination[0] ?? "") ?? (this.events === "all" ? ORDINARY : undefined);
    if (!script) return;
    void (async () => {
      for (const event of script) await this.publish(mail, event);
    })().catch(() => {
      this.stats.failed++;
    });
  }

  private async publish(
    mail: SentMail,
    simulated: SimulatedEvent,
    details: EventDetails = {},
  ): Promise<void> {
    const target = this.targets.get(mail.region);
    if (!target) throw new Error(`no feedback queue in ${mail.region}`);
    const body = envelope(mail, simulated, details);
    // A second's delay: SES reports after the send call returned, by when the sender has
    // recorded the message id on the ledger.
    await target.client.send(
      new SendMessageCommand({
        QueueUrl: target.queueUrl,
        MessageBody: JSON.stringify(body),
        DelaySeconds: 1,
      }),
    );
    this.stats.published++;
  }
}

/** An SES event in the EventBridge envelope the rule forwards to the feedback queue. */
function envelope(mail: SentMail, simulated: SimulatedEvent, details: EventDetails): Record<string, unknown> {
  const detail = sesEvent(mail, simulated, details);
  const type = detail.eventType as SesEventType;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": SES_DETAIL_TYPES[type],
    source: SES_EVENT_SOURCE,
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString(),
    region: mail.region,
    resources: [`arn:aws:ses:${mail.region}:${LOCAL_ACCOUNT}:configuration-set/${mail.configurationSet}`],
    detail,
  };
}

/** The simulator script for an address, or undefined for an ordinary recipient. */
function scriptFor(address: string): readonly SimulatedEvent[] | undefined {
  const at = address.lastIndexOf("@");
  if (at <= 0 || address.slice(at + 1).toLowerCase() !== SIMULATOR_DOMAIN) return undefined;
  const base = address.slice(0, at).split("+")[0]?.toLowerCase() ?? "";
  return SCRIPTS[base];
}

function sesEvent(
  mail: SentMail,
  simulated: SimulatedEvent,
  details: EventDetails,
): Record<string, unknown> & { eventType: string } {
  const now = details.at ?? new Date().toISOString();
  const agent = {
    ipAddress: details.ipAddress ?? "192.0.2.1",
    userAgent: details.userAgent ?? "Mozilla/5.0 (local)",
  };
  const recipients = mail.destination;
  const base = {
    mail: {
      timestamp: mail.timestamp,
      source: mail.source,
      sourceArn: `arn:aws:ses:${mail.region}:${LOCAL_ACCOUNT}:identity/${mail.source.slice(mail.source.lastIndexOf("@") + 1)}`,
      sendingAccountId: LOCAL_ACCOUNT,
      messageId: mail.messageId,
      destination: recipients,
      headersTruncated: false,
      commonHeaders: {
        from: [mail.source],
        to: recipients,
        messageId: mail.messageId,
        subject: mail.subject,
      },
      tags: mail.tags,
    },
  };
  const mta = "a8-70.smtp-out.amazonses.com";
  switch (simulated) {
    case "Send":
      return { eventType: "Send", ...base, send: {} };
    case "Delivery":
      return {
        eventType: "Delivery",
        ...base,
        delivery: {
          timestamp: now,
          processingTimeMillis: 500,
          recipients,
          smtpResponse: "250 2.6.0 Message received",
          reportingMTA: mta,
        },
      };
    case "Bounce":
    case "SuppressionListBounce": {
      const onList = simulated === "SuppressionListBounce";
      return {
        eventType: "Bounce",
        ...base,
        bounce: {
          bounceType: "Permanent",
          bounceSubType: onList ? "OnAccountSuppressionList" : "General",
          bouncedRecipients: recipients.map((emailAddress) => ({
            emailAddress,
            action: "failed",
            status: "5.1.1",
            diagnosticCode: onList
              ? "Amazon SES did not send the message to this address because it is on the suppression list for your account."
              : "smtp; 550 5.1.1 user unknown",
          })),
          timestamp: now,
          feedbackId: `${mail.messageId}-bounce`,
          reportingMTA: `dsn; ${mta}`,
        },
      };
    }
    case "Complaint":
      return {
        eventType: "Complaint",
        ...base,
        complaint: {
          complainedRecipients: recipients.map((emailAddress) => ({ emailAddress })),
          timestamp: now,
          feedbackId: `${mail.messageId}-complaint`,
          userAgent: "Amazon SES Mailbox Simulator",
          complaintFeedbackType: "abuse",
          arrivalDate: now,
        },
      };
    case "Open":
      return {
        eventType: "Open",
        ...base,
        open: { timestamp: now, ...agent },
      };
    case "Click":
      return {
        eventType: "Click",
        ...base,
        click: {
          timestamp: now,
          ...agent,
          link: details.link ?? "https://example.com/",
          linkTags: {},
        },
      };
    default:
      throw new Error(`the simulator does not publish ${simulated} events`);
  }
}
