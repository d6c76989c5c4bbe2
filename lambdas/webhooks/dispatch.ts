import type { WebhookDelivery, WebhookDeliveryStore } from "../adapters/webhook-delivery-store.ts";
import type { Webhook, WebhookStore } from "../adapters/webhook-store.ts";
import type { WebhookEvent, WebhookMessage } from "../contracts/webhook-events.ts";
import {
  DELIVERY_TIMEOUT_MS,
  healthSince,
  nextRetrySeconds,
  shouldDisable,
} from "../domain/webhook-delivery.ts";
import { SIGNATURE_HEADER, signWebhook } from "../domain/webhook-signature.ts";
import { mapLimit } from "../shared/concurrency.ts";

/** The longest delay SQS gives a message: a longer wait is several hops. */
const MAX_QUEUE_DELAY_SECONDS = 900;

/** Deliveries in flight at once in one invocation. */
const PARALLEL = 8;

/**
 * Deliveries of a replay read (and delivered again) per queue message: PARALLEL at a time, each at
 * most a 10 s try, well inside the function's 60 s even when every try times out.
 */
const REPLAY_PAGE = 32;

type ReplayMessage = Extract<WebhookMessage, { kind: "replay" }>;

/** What an HTTP POST to an endpoint came to: its status, or why there was none. */
export type PostResult = { readonly status: number } | { readonly error: string };

type DispatchNotice =
  | { type: "delivered"; lagMs: number }
  | { type: "failed"; attempts: number; givenUp: boolean }
  | { type: "disabled"; webhookId: string };

export interface DispatchDeps {
  readonly store: Pick<WebhookStore, "all" | "get" | "markFailing" | "markHealthy" | "disable">;
  readonly log: Pick<WebhookDeliveryStore, "begin" | "delivery" | "recordAttempt" | "firstDeliveriesSince">;
  /** The region this function runs in: the only one whose health items it writes. */
  readonly region: string;
  /** POSTs a body with headers, giving up after `timeoutMs`. */
  readonly post: (
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ) => Promise<PostResult>;
  /** Puts a message (a retry, a replay's next page) on the webhooks queue, visible after `delaySeconds`. */
  readonly retryLater: (message: WebhookMessage, delaySeconds: number) => Promise<void>;
  readonly now: () => number;
  readonly onNotice?: (notice: DispatchNotice) => void;
}

/**
 * Delivers webhook events: each event to every enabled endpoint that takes its type, signed
 * (domain/webhook-signature.ts), each delivery logged, retried with backoff for up to 3 days
 * (domain/webhook-delivery.ts) through delayed messages on the queue, its endpoint disabled once it
 * has failed for a day in this region. A delivery is begun once per (endpoint, event), so an event
 * published twice is delivered once from here; a receiver may still see an event twice (a try whose
 * answer was lost, a replay), always with the same id. A replay delivers each event again as a
 * delivery of its own, page by page. Deliveries run beside sending, on their own queue: a slow
 * receiver delays only its own deliveries.
 */
export class WebhookDispatcher {
  /** Endpoints this container recorded a failure of, not cleared since. */
  private readonly failedHere = new Set<string>();

  constructor(private readonly deps: DispatchDeps) {}

  async handle(message: WebhookMessage): Promise<void> {
    if (message.kind === "events") return this.fanOut(message.events);
    if (message.kind === "replay") return this.replay(message);
    const [webhook, delivery] = await Promise.all([
      this.deps.store.get(message.webhookId, true),
      this.deps.log.delivery(message.webhookId, message.delivery),
    ]);
    if (!webhook || !delivery || delivery.status !== "pending") return;
    const due = delivery.nextAttemptAt ? Date.parse(delivery.nextAttemptAt) : 0;
    const waitSeconds = Math.ceil((due - this.deps.now()) / 1000);
    if (waitSeconds > 0) {
      // A wait longer than SQS delays a message: one more hop.
      await this.deps.retryLater(message, Math.min(waitSeconds, MAX_QUEUE_DELAY_SECONDS));
      return;
    }
    await this.attempt(webhook, delivery);
  }

  private async fanOut(events: readonly WebhookEvent[]): Promise<void> {
    const endpoints = (await this.deps.store.all()).filter((w) => w.state === "enabled");
    const work = events.flatMap((event) =>
      endpoints.filter((w) => w.events.includes(event.type)).map((webhook) => ({ webhook, event })),
    );
    await mapLimit(work, PARALLEL, async ({ webhook, event }) => {
      const delivery = await this.deps.log.begin(webhook.id, event, this.deps.now());
      if (delivery) await this.attempt(webhook, delivery);
    });
  }

  /**
   * One page of a replay: each first delivery since `since` (whatever region made it) begun again
   * as this replay's, here, and tried; the next page goes back on the queue. A message handled twice
   * begins nothing twice. An endpoint disabled meanwhile gets nothing.
   */
  private async replay(message: ReplayMessage): Promise<void> {
    const webhook = await this.deps.store.get(message.webhookId, true);
    if (!webhook || webhook.state !== "enabled") return;
    const page = await this.deps.log.firstDeliveriesSince(
      webhook.id,
      message.since,
      message.until,
      REPLAY_PAGE,
      message.cursor,
    );
    await mapLimit(page.items, PARALLEL, async (first) => {
      const delivery = await this.deps.log.begin(webhook.id, first.event, this.deps.now(), message.replayId);
      if (delivery) await this.attempt(webhook, delivery);
    });
    if (page.nextCursor) await this.deps.retryLater({ ...message, cursor: page.nextCursor }, 0);
  }

  /** One try: POST, then record the outcome, and schedule the next try or give up. */
  private async attempt(webhook: Webhook, delivery: WebhookDelivery): Promise<void> {
    const nowMs = this.deps.now();
    const body = JSON.stringify(delivery.event);
    const headers = {
      "content-type": "application/json",
      "user-agent": "Steadfast-Webhooks/1",
      [SIGNATURE_HEADER]: signWebhook(webhook.secrets, body, Math.floor(nowMs / 1000)),
      "steadfast-event-id": delivery.event.id,
      "steadfast-event-type": delivery.event.type,
    };
    const result = await this.deps.post(webhook.url, body, headers, DELIVERY_TIMEOUT_MS);
    const after = this.deps.now();
    const now = new Date(after).toISOString();
    if ("status" in result && result.status >= 200 && result.status < 300) {
      if (
        !(await this.deps.log.recordAttempt(
          delivery,
          { status: "delivered", lastStatusCode: result.status, deliveredAt: now },
          now,
          after,
        ))
      )
        return;
      // A failure record to clear is one the endpoint was read with, or one this container wrote
      // since that read; any other is cleared by a success after the next read (saves a write per
      // delivery).
      if (webhook.failingSince || this.failedHere.has(webhook.id)) {
        await this.deps.store.markHealthy(webhook.id, this.deps.region);
        this.failedHere.delete(webhook.id);
      }
      this.deps.onNotice?.({ type: "delivered", lagMs: after - Date.parse(delivery.event.createdAt) });
      return;
    }
    const attempts = delivery.attempts + 1;
    const firstMs = delivery.firstAttemptAt ? Date.parse(delivery.firstAttemptAt) : nowMs;
    const wait = nextRetrySeconds(attempts, firstMs, after);
    const failure =
      "status" in result ? { lastStatusCode: result.status } : { lastError: result.error.slice(0, 300) };
    const recorded = await this.deps.log.recordAttempt(
      delivery,
      wait === undefined
        ? { status: "failed", ...failure }
        : { status: "pending", ...failure, nextAttemptAt: new Date(after + wait * 1000).toISOString() },
      now,
      after,
    );
    if (!recorded) return;
    this.deps.onNotice?.({ type: "failed", attempts, givenUp: wait === undefined });
    if (wait !== undefined)
      await this.deps.retryLater(
        { kind: "retry", webhookId: webhook.id, delivery: delivery.key },
        Math.min(wait, MAX_QUEUE_DELAY_SECONDS),
      );
    const since = healthSince(webhook);
    this.failedHere.add(webhook.id);
    const failingSince = await this.deps.store.markFailing(webhook.id, this.deps.region, now, since);
    if (shouldDisable(Date.parse(failingSince), after)) {
      const disabled = await this.deps.store.disable(
        webhook.id,
        this.deps.region,
        `every delivery failed since ${failingSince}`,
        now,
        since,
      );
      if (disabled) this.deps.onNotice?.({ type: "disabled", webhookId: webhook.id });
    }
  }
}
