import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { WebhookEvent } from "../contracts/webhook-events.ts";
import { isCutOff } from "../domain/webhook-delivery.ts";
import { decodeKeyCursor, encodeKeyCursor, type Page } from "./dynamo/cursor.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { WEBHOOK_DELIVERY_PREFIX, webhookDeliveryKey, webhookKey } from "./dynamo/keys.ts";

type DeliveryStatus = "pending" | "delivered" | "failed";

/** One event's delivery to one endpoint, and its log. */
export interface WebhookDelivery {
  readonly webhookId: string;
  /** The item's sort key: what a retry message names. */
  readonly key: string;
  readonly event: WebhookEvent;
  /** Set on a replay's delivery of the event: the replay it belongs to. */
  readonly replayId?: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  /** When the delivery was begun (epoch ms): one begun long ago and never tried was cut off. */
  readonly begunAt?: number;
  readonly firstAttemptAt?: string;
  readonly lastAttemptAt?: string;
  readonly nextAttemptAt?: string;
  readonly lastStatusCode?: number;
  readonly lastError?: string;
  readonly deliveredAt?: string;
}

/** How long a delivery's log (and its event, for replay) is kept. */
const DELIVERY_RETENTION_SECONDS = 30 * 86_400;

/**
 * Webhook deliveries (`WEBHOOK#<id>/DELIVERY#<day>#<eventId>[#R<replayId>]`), in the audience
 * table: the only writer of those items. One writer per item: an event's delivery is begun and
 * tried by the webhooks function of the region whose producer published the event (each region
 * delivers what happened in it); a replay's deliveries are new items, begun and tried by the
 * webhooks function of the region that took the replay, never the first delivery rewritten from
 * another region.
 */
export class WebhookDeliveryStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Starts the delivery of an event to an endpoint (within a replay, when `replayId` is given): its
   * log item, `pending`. Undefined when that delivery was begun already (the event published, or
   * the replay's message handled, twice) and is in hands or done; the delivery itself when it was
   * begun and then cut off before its first try, so that it is tried after all.
   */
  async begin(
    webhookId: string,
    event: WebhookEvent,
    nowMs: number,
    replayId?: string,
  ): Promise<WebhookDelivery | undefined> {
    const key = webhookDeliveryKey(webhookId, event.createdAt, event.id, replayId);
    const delivery: WebhookDelivery = {
      webhookId,
      key: key.sk,
      event,
      ...(replayId ? { replayId } : {}),
      status: "pending",
      attempts: 0,
      begunAt: nowMs,
    };
    try {
      await this.put(delivery, nowMs, { ConditionExpression: "attribute_not_exists(pk)" });
      return delivery;
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
    const existing = await this.delivery(webhookId, key.sk);
    return existing && isCutOff(existing, nowMs) ? existing : undefined;
  }

  async delivery(webhookId: string, key: string): Promise<WebhookDelivery | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: webhookKey(webhookId).pk, sk: key },
        ConsistentRead: true,
      }),
    );
    return out.Item ? toDelivery(out.Item) : undefined;
  }

  /**
   * Records try number `delivery.attempts + 1` and its outcome; false when another worker recorded
   * that try first (the delivery is in its hands).
   */
  async recordAttempt(
    delivery: WebhookDelivery,
    outcome: Pick<
      WebhookDelivery,
      "status" | "lastStatusCode" | "lastError" | "nextAttemptAt" | "deliveredAt"
    >,
    now: string,
    nowMs: number,
  ): Promise<boolean> {
    const next: WebhookDelivery = {
      ...delivery,
      ...outcome,
      attempts: delivery.attempts + 1,
      firstAttemptAt: delivery.firstAttemptAt ?? now,
      lastAttemptAt: now,
    };
    try {
      await this.put(next, nowMs, {
        ConditionExpression: "attempts = :attempts",
        ExpressionAttributeValues: { ":attempts": delivery.attempts },
      });
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /** An endpoint's deliveries, replays' included, the latest days first. */
  async deliveries(webhookId: string, limit: number, cursor?: string): Promise<Page<WebhookDelivery>> {
    const pk = webhookKey(webhookId).pk;
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": pk, ":prefix": WEBHOOK_DELIVERY_PREFIX },
        ExclusiveStartKey: decodeKeyCursor(cursor, pk, WEBHOOK_DELIVERY_PREFIX),
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return toPage(out.Items, out.LastEvaluatedKey);
  }

  /**
   * A page of the first deliveries (no replay's) of the events that happened from `since` to
   * `until` (ISO 8601), oldest days first: what a replay delivers again. Events after `until` (the
   * replay's request) had their first delivery since, and are left out.
   */
  async firstDeliveriesSince(
    webhookId: string,
    since: string,
    until: string,
    limit: number,
    cursor?: string,
  ): Promise<Page<WebhookDelivery>> {
    const pk = webhookKey(webhookId).pk;
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
        FilterExpression: "attribute_not_exists(replayId)",
        ExpressionAttributeValues: {
          ":pk": pk,
          ":from": `${WEBHOOK_DELIVERY_PREFIX}${since.slice(0, 10)}`,
          ":to": `${WEBHOOK_DELIVERY_PREFIX}${until.slice(0, 10)}#~`,
        },
        ExclusiveStartKey: decodeKeyCursor(cursor, pk, WEBHOOK_DELIVERY_PREFIX),
        Limit: limit,
      }),
    );
    const page = toPage(out.Items, out.LastEvaluatedKey);
    const within = (d: WebhookDelivery) => d.event.createdAt >= since && d.event.createdAt <= until;
    return { ...page, items: page.items.filter(within) };
  }

  /** Writes a delivery's log item whole, kept DELIVERY_RETENTION_SECONDS from now. */
  private async put(
    delivery: WebhookDelivery,
    nowMs: number,
    condition: { ConditionExpression: string; ExpressionAttributeValues?: Record<string, unknown> },
  ): Promise<void> {
    const { key, event, ...rest } = delivery;
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: webhookKey(delivery.webhookId).pk,
          sk: key,
          type: "webhook-delivery",
          ...rest,
          event: JSON.stringify(event),
          expiresAt: Math.floor(nowMs / 1000) + DELIVERY_RETENTION_SECONDS,
        },
        ...condition,
      }),
    );
  }
}

function toPage(
  items: Record<string, unknown>[] | undefined,
  lastKey: Record<string, unknown> | undefined,
): Page<WebhookDelivery> {
  const nextCursor = encodeKeyCursor(lastKey);
  return { items: (items ?? []).map(toDelivery), ...(nextCursor ? { nextCursor } : {}) };
}

function toDelivery(item: Record<string, unknown>): WebhookDelivery {
  const { pk: _pk, sk, type: _type, expiresAt: _e, event, ...rest } = item;
  return {
    ...(rest as Omit<WebhookDelivery, "key" | "event">),
    key: sk as string,
    event: JSON.parse(event as string) as WebhookEvent,
  };
}
