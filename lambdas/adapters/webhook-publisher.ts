import type { WebhookEvent, WebhookEventType } from "../contracts/webhook-events.ts";
import { chunk } from "../shared/concurrency.ts";
import type { QueuePublisher } from "./queue.ts";
import type { WebhookStore } from "./webhook-store.ts";

/** Events per queue message (a few hundred bytes each: far below SQS's 256 KB). */
const EVENTS_PER_MESSAGE = 100;

/** How long the publisher trusts what it read of the endpoints: a new endpoint gets events after this. */
const ENDPOINTS_TTL_MS = 15_000;

/**
 * Puts webhook events on the webhooks queue, for the webhooks function to deliver. Only events some
 * enabled endpoint takes are published (with no endpoint, publishing costs one read of the
 * endpoints per container every 15 s and nothing else). Producers publish after the fact is
 * recorded; the event's id comes from the fact, so publishing one twice is harmless.
 */
export class WebhookPublisher {
  private wanted: { readonly at: number; readonly types: Promise<ReadonlySet<WebhookEventType>> } | undefined;

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
   * failure (the queue unreachable beyond the SDK's retries) is handed to `onError`.
   */
  async flush(buffer: WebhookEvent[], onError: (error: unknown, lost: number) => void): Promise<void> {
    const events = buffer.splice(0);
    try {
      await this.publish(events);
    } catch (error) {
      onError(error, events.length);
    }
  }

  private subscribedTypes(): Promise<ReadonlySet<WebhookEventType>> {
    const now = this.now();
    if (!this.wanted || now - this.wanted.at >= ENDPOINTS_TTL_MS) {
      const types = this.store
        .all()
        .then((all) => new Set(all.filter((w) => w.status === "enabled").flatMap((w) => w.events)));
      types.catch(() => undefined);
      this.wanted = { at: now, types };
    }
    const read = this.wanted.types;
    // A failed read is tried again on the next publish, not remembered for the TTL.
    read.catch(() => {
      if (this.wanted?.types === read) this.wanted = undefined;
    });
    return read;
  }
}
