import type { WebhookEvent, WebhookEventType } from "../contracts/webhook-events.ts";
import { chunk } from "../shared/concurrency.ts";
import { logger } from "../shared/powertools.ts";
import type { QueuePublisher } from "./queue.ts";
import { WebhookStore } from "./webhook-store.ts";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV } from "../contracts/env.ts";
import { requireEnv } from "../shared/env.ts";
import type { CampaignControl } from "./campaign-items.ts";
import { campaignStatusEvent } from "../domain/webhook-event.ts";

/** Events per queue message (a few hundred bytes each: far below SQS's 256 KB). */
const EVENTS_PER_MESSAGE = 100;

/** The longest an event waits in a WebhookOutbox for others to share its message. */
const OUTBOX_MAX_WAIT_MS = 1_000;

/** How long the publisher trusts what it read of the endpoints: a new endpoint gets events after this. */
const ENDPOINTS_TTL_MS = 15_000;

/**
 * Puts webhook events on the webhooks queue, for the webhooks function to deliver. Only events some
 * enabled endpoint takes are published (with no endpoint, publishing costs one read of the
 * endpoints per container every 15 s and nothing else). Producers publish after the fact is
 * recorded; the event's id comes from the fact, so publishing one twice is harmless.
 */
export class WebhookPublisher {
  private known: { readonly at: number; readonly types: ReadonlySet<WebhookEventType> } | undefined;

  constructor(
    private readonly store: Pick<WebhookStore, "all">,
    private readonly queue: Pick<QueuePublisher, "send">,
    private readonly queueUrl: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async publish(events: readonly WebhookEvent[]): Promise<void> {
    if (!this.queueUrl || events.length === 0) return;
    const types = await this.subscribedTypes();
    const chosen = events.filter((event) => types.has(event.type));
    for (const part of chunk(chosen, EVENTS_PER_MESSAGE))
      await this.queue.send(this.queueUrl, { kind: "events", events: part });
  }

  /**
   * Publishes and empties `buffer`, the events a handler collected while it worked, after the facts
   * they report are recorded. Never throws: the facts stand whatever happens to their events; a
   * failure (the queue unreachable beyond the SDK's retries) is logged with how many were lost.
   */
  async flush(buffer: WebhookEvent[]): Promise<void> {
    const events = buffer.splice(0);
    try {
      await this.publish(events);
    } catch (error) {
      logger.error("webhook events not published", { lost: events.length, error: (error as Error).name });
    }
  }

  /**
   * The hook a CampaignStore calls after each status change: a `campaign.status_changed` event
   * (none for system campaigns, such as confirmation emails), published at best effort.
   */
  transitions(): (campaign: CampaignControl) => Promise<void> {
    return async (campaign) => {
      if (campaign.purpose) return;
      await this.flush([campaignStatusEvent(campaign.id, campaign.status, campaign.updatedAt)]);
    };
  }

  /**
   * The event types enabled endpoints take, read at most every ENDPOINTS_TTL_MS. A read that fails
   * falls back on the last one that succeeded (an endpoint change is seen a little later, rather
   * than sending held up by a DynamoDB hiccup); with none yet, it throws.
   */
  private async subscribedTypes(): Promise<ReadonlySet<WebhookEventType>> {
    const now = this.now();
    if (this.known && now - this.known.at < ENDPOINTS_TTL_MS) return this.known.types;
    try {
      const all = await this.store.all();
      this.known = {
        at: now,
        types: new Set(all.filter((w) => w.state === "enabled").flatMap((w) => w.events)),
      };
    } catch (error) {
      if (!this.known) throw error;
    }
    return this.known.types;
  }
}

/** The publisher of a function: its region's webhooks queue (unset: events go nowhere). */
export function webhookPublisherFromEnv(
  db: DynamoDBDocumentClient,
  queue: Pick<QueuePublisher, "send">,
): WebhookPublisher {
  return new WebhookPublisher(
    new WebhookStore(db, requireEnv(ENV.audienceTable)),
    queue,
    process.env[ENV.webhookQueueUrl],
  );
}

/**
 * A handler's webhook events, published as they come: each time a message's worth has gathered
 * (EVENTS_PER_MESSAGE), or the oldest waiting has waited OUTBOX_MAX_WAIT_MS, rather than all at the
 * end of a batch that may run for many seconds. A publish that fails keeps its events for `drain`,
 * which publishes everything still unpublished at the end of the batch and throws if it cannot (an
 * at-least-once producer's batch then fails and comes back). The events' facts are recorded before
 * they are added.
 */
export class WebhookOutbox {
  private waiting: WebhookEvent[] = [];
  private oldestAt = 0;
  private unpublished: WebhookEvent[] = [];
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly publisher: Pick<WebhookPublisher, "publish">,
    private readonly now: () => number = Date.now,
  ) {}

  add(event: WebhookEvent): void {
    if (this.waiting.length === 0) this.oldestAt = this.now();
    this.waiting.push(event);
    if (this.waiting.length >= EVENTS_PER_MESSAGE || this.now() - this.oldestAt >= OUTBOX_MAX_WAIT_MS)
      this.publishWaiting();
  }

  /** Publishes every event not yet published; throws, keeping them, when the queue refuses. */
  async drain(): Promise<void> {
    this.publishWaiting();
    await this.chain;
    const events = this.unpublished.splice(0);
    if (events.length === 0) return;
    try {
      await this.publisher.publish(events);
    } catch (error) {
      this.unpublished.unshift(...events);
      throw error;
    }
  }

  /**
   * One publish at a time, in order. A failure keeps its events for `drain`, and so does every
   * publish after it until then: the queue is not tried again and again within the batch.
   */
  private publishWaiting(): void {
    const events = this.waiting.splice(0);
    if (events.length === 0) return;
    this.chain = this.chain.then(async () => {
      if (this.unpublished.length > 0) {
        this.unpublished.push(...events);
        return;
      }
      try {
        await this.publisher.publish(events);
      } catch {
        this.unpublished.push(...events);
      }
    });
  }
}
