import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { WebhookEvent, WebhookEventType } from "../contracts/webhook-events.ts";
import { transactWrite } from "./dynamo/batch.ts";
import { updateIf } from "./dynamo/conditional.ts";
import { decodeKeyCursor, encodeKeyCursor, type Page } from "./dynamo/cursor.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import { allIndexed, createIndexed, oneItem, pageIndexed } from "./dynamo/indexed.ts";
import {
  WEBHOOK_DELIVERY_PREFIX,
  webhookDeliveryKey,
  webhookIndexKey,
  webhookKey,
  WEBHOOKS_PK,
} from "./dynamo/keys.ts";
import { queryAll } from "./dynamo/query.ts";

export interface Webhook {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  /**
   * The signing secrets, the current one first; while a secret is rotated, the previous one too
   * (every delivery is signed with both). Never shown by the API.
   */
  readonly secrets: readonly string[];
  readonly status: "enabled" | "disabled";
  /** When its deliveries started failing, none succeeding since. */
  readonly failingSince?: string;
  readonly disabledReason?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

type DeliveryStatus = "pending" | "delivered" | "failed";

/** One event's delivery to one endpoint, and its log. */
export interface WebhookDelivery {
  readonly webhookId: string;
  /** The item's sort key: what a retry message names. */
  readonly key: string;
  readonly event: WebhookEvent;
  readonly status: DeliveryStatus;
  readonly attempts: number;
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
 * Webhook endpoints (`WEBHOOK#<id>/#META`, indexed in `WEBHOOKS`) and their deliveries
 * (`WEBHOOK#<id>/DELIVERY#<day>#<eventId>`), in the audience table: the only writer of those items.
 * An endpoint is written by the API of the region that takes the request (a change is rare; two
 * regions changing one endpoint at once keep the last). A delivery is written by the webhooks
 * function of the region whose producer published the event, and only there: each region delivers
 * the events of what happened in it, so no two regions write one delivery.
 */
export class WebhookStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(webhook: Webhook): Promise<void> {
    await createIndexed(
      this.db,
      this.table,
      { key: webhookKey(webhook.id), item: { type: "webhook", ...webhook } },
      { key: webhookIndexKey(webhook.createdAt, webhook.id), type: "webhook-index", id: webhook.id },
    );
  }

  async get(id: string, consistent = false): Promise<Webhook | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: webhookKey(id), ConsistentRead: consistent }),
    );
    return out.Item ? toWebhook(out.Item) : undefined;
  }

  page(limit: number, cursor?: string): Promise<Page<Webhook>> {
    return pageIndexed(this.db, this.table, WEBHOOKS_PK, oneItem(webhookKey, toWebhook), limit, cursor);
  }

  /** Every endpoint (a deployment has a handful). */
  all(): Promise<Webhook[]> {
    return allIndexed(this.db, this.table, WEBHOOKS_PK, oneItem(webhookKey, toWebhook));
  }

  /** Replaces an endpoint's settings; false when it is gone. */
  async put(webhook: Webhook): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...webhookKey(webhook.id), type: "webhook", ...webhook },
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async delete(webhook: Webhook): Promise<boolean> {
    try {
      await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: webhookKey(webhook.id),
            ConditionExpression: "attribute_exists(pk)",
          },
        },
        { Delete: { TableName: this.table, Key: webhookIndexKey(webhook.createdAt, webhook.id) } },
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }

  /** Notes a failed delivery: the endpoint is failing since now, unless it already was. */
  async markFailing(id: string, now: string): Promise<string> {
    await updateIf(this.db, {
      TableName: this.table,
      Key: webhookKey(id),
      UpdateExpression: "SET failingSince = :now",
      ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(failingSince)",
      ExpressionAttributeValues: { ":now": now },
    });
    return (await this.get(id, true))?.failingSince ?? now;
  }

  /** Notes a delivery that succeeded: the endpoint is failing no more. */
  async markHealthy(id: string): Promise<void> {
    await updateIf(this.db, {
      TableName: this.table,
      Key: webhookKey(id),
      UpdateExpression: "REMOVE failingSince",
      ConditionExpression: "attribute_exists(failingSince)",
    });
  }

  /** Disables an endpoint that failed for too long; false when it was disabled already. */
  async disable(id: string, reason: string, now: string): Promise<boolean> {
    return updateIf(this.db, {
      TableName: this.table,
      Key: webhookKey(id),
      UpdateExpression: "SET #status = :disabled, disabledReason = :reason, updatedAt = :now",
      ConditionExpression: "#status = :enabled",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":disabled": "disabled",
        ":enabled": "enabled",
        ":reason": reason,
        ":now": now,
      },
    });
  }

  /**
   * Starts the delivery of an event to an endpoint: its log item, `pending`. Undefined when the
   * event is being or was delivered there already (published twice): its first delivery goes on.
   */
  async begin(webhookId: string, event: WebhookEvent, nowMs: number): Promise<WebhookDelivery | undefined> {
    const key = webhookDeliveryKey(webhookId, event.createdAt, event.id);
    const delivery: WebhookDelivery = { webhookId, key: key.sk, event, status: "pending", attempts: 0 };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, type: "webhook-delivery", ...toItem(delivery), expiresAt: expiry(nowMs) },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return delivery;
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
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
      await this.putDelivery(next, nowMs, {
        ConditionExpression: "attempts = :attempts",
        ExpressionAttributeValues: { ":attempts": delivery.attempts },
      });
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /** An endpoint's deliveries, the latest days first. */
  async deliveries(webhookId: string, limit: number, cursor?: string): Promise<Page<WebhookDelivery>> {
    const pk = webhookKey(webhookId).pk;
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": pk, ":prefix": WEBHOOK_DELIVERY_PREFIX },
        ExclusiveStartKey: decodeKeyCursor(cursor, pk),
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
    return { items: (out.Items ?? []).map(toDelivery), ...(nextCursor ? { nextCursor } : {}) };
  }

  /** The deliveries of events that happened at or after `since` (ISO 8601), oldest days first. */
  async deliveriesSince(webhookId: string, since: string): Promise<WebhookDelivery[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
      ExpressionAttributeValues: {
        ":pk": webhookKey(webhookId).pk,
        ":from": `${WEBHOOK_DELIVERY_PREFIX}${since.slice(0, 10)}`,
        ":to": `${WEBHOOK_DELIVERY_PREFIX}~`,
      },
      ConsistentRead: true,
    });
    return items.map(toDelivery).filter((d) => d.event.createdAt >= since);
  }

  /** Puts a delivery back to `pending` for a replay, its tries counted on. */
  async reopen(delivery: WebhookDelivery, nowMs: number): Promise<WebhookDelivery> {
    const reopened: WebhookDelivery = { ...delivery, status: "pending" };
    const { nextAttemptAt: _n, ...rest } = reopened;
    await this.putDelivery(rest, nowMs);
    return rest;
  }

  /** Writes a delivery's log item whole, kept DELIVERY_RETENTION_SECONDS from now. */
  private async putDelivery(
    delivery: WebhookDelivery,
    nowMs: number,
    condition:
      | { ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> }
      | undefined = undefined,
  ): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: webhookKey(delivery.webhookId).pk,
          sk: delivery.key,
          type: "webhook-delivery",
          ...toItem(delivery),
          expiresAt: expiry(nowMs),
        },
        ...condition,
      }),
    );
  }
}

const expiry = (nowMs: number) => Math.floor(nowMs / 1000) + DELIVERY_RETENTION_SECONDS;

function toItem(delivery: WebhookDelivery): Record<string, unknown> {
  const { key: _key, event, ...rest } = delivery;
  return { ...rest, event: JSON.stringify(event) };
}

function toDelivery(item: Record<string, unknown>): WebhookDelivery {
  const { pk: _pk, sk, type: _type, expiresAt: _e, event, ...rest } = item;
  return {
    ...(rest as Omit<WebhookDelivery, "key" | "event">),
    key: sk as string,
    event: JSON.parse(event as string) as WebhookEvent,
  };
}

function toWebhook(item: Record<string, unknown>): Webhook {
  const { pk: _pk, sk: _sk, type: _type, ...rest } = item;
  return rest as unknown as Webhook;
}
