import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { WebhookEventType } from "../contracts/webhook-events.ts";
import { type EndpointHealth, endpointState } from "../domain/webhook-delivery.ts";
import { transactWrite } from "./dynamo/batch.ts";
import { updateIf } from "./dynamo/conditional.ts";
import type { Page } from "./dynamo/cursor.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import { allIndexed, createIndexed, oneItem, pageIndexed } from "./dynamo/indexed.ts";
import {
  WEBHOOK_HEALTH_PK,
  webhookHealthKey,
  webhookIndexKey,
  webhookKey,
  WEBHOOKS_PK,
} from "./dynamo/keys.ts";
import { queryAll } from "./dynamo/query.ts";

/** An endpoint's settings, as the API sets them. */
export interface WebhookSettings {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  /**
   * The signing secrets, the current one first; while a secret is rotated, the previous one too
   * (every delivery is signed with both). Never shown by the API.
   */
  readonly secrets: readonly string[];
  /** As set through the API. */
  readonly status: "enabled" | "disabled";
  /** When it was last enabled through the API: a region's health from before is history. */
  readonly enabledAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An endpoint as read: its settings, and its state from every region's health. */
export interface Webhook extends WebhookSettings {
  /** Disabled through the API, or by a region where every delivery failed for a day. */
  readonly state: "enabled" | "disabled";
  readonly failingSince?: string;
  readonly disabledReason?: string;
}

/**
 * Webhook endpoints (`WEBHOOK#<id>/#META`, indexed in `WEBHOOKS`) and each region's view of their
 * health (`WEBHOOK-HEALTH/<id>#<region>`), in the audience table: the only writer of those items
 * (deliveries are WebhookDeliveryStore's). One writer per item:
 * - an endpoint's settings are written by the API of the region that takes the request (a change is
 *   rare; two regions changing one endpoint at once keep the last, whole);
 * - a region's health item is written by that region's webhooks function only, so a failure noted
 *   in one region and a success in another never overwrite each other, and a PATCH never erases
 *   either. The endpoint's state is read from all of them (domain/webhook-delivery.ts).
 * A deleted endpoint's health items are left (a few bytes each, written by other regions).
 */
export class WebhookStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(webhook: WebhookSettings): Promise<void> {
    await createIndexed(
      this.db,
      this.table,
      { key: webhookKey(webhook.id), item: { type: "webhook", ...webhook } },
      { key: webhookIndexKey(webhook.createdAt, webhook.id), type: "webhook-index", id: webhook.id },
    );
  }

  async get(id: string, consistent = false): Promise<Webhook | undefined> {
    const [out, health] = await Promise.all([
      this.db.send(
        new GetCommand({ TableName: this.table, Key: webhookKey(id), ConsistentRead: consistent }),
      ),
      this.health(consistent, id),
    ]);
    return out.Item ? withState(toSettings(out.Item), health) : undefined;
  }

  async page(limit: number, cursor?: string): Promise<Page<Webhook>> {
    const [page, health] = await Promise.all([
      pageIndexed(this.db, this.table, WEBHOOKS_PK, oneItem(webhookKey, toSettings), limit, cursor),
      this.health(false),
    ]);
    return { ...page, items: page.items.map((w) => withState(w, health)) };
  }

  /** Every endpoint (a deployment has a handful). */
  async all(): Promise<Webhook[]> {
    const [settings, health] = await Promise.all([
      allIndexed(this.db, this.table, WEBHOOKS_PK, oneItem(webhookKey, toSettings)),
      this.health(false),
    ]);
    return settings.map((w) => withState(w, health));
  }

  /** Replaces an endpoint's settings; false when it is gone. */
  async put(webhook: WebhookSettings): Promise<boolean> {
    const { state: _s, failingSince: _f, disabledReason: _d, ...settings } = webhook as Webhook;
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...webhookKey(webhook.id), type: "webhook", ...settings },
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async delete(webhook: WebhookSettings): Promise<boolean> {
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

  /**
   * Notes a failed delivery in `region`: failing since now, unless it already was since the
   * endpoint was last enabled (`since`); the time it has been failing since.
   */
  async markFailing(id: string, region: string, now: string, since: string): Promise<string> {
    await updateIf(this.db, {
      TableName: this.table,
      Key: webhookHealthKey(id, region),
      UpdateExpression: "SET failingSince = :now",
      ConditionExpression: "attribute_not_exists(failingSince) OR failingSince < :since",
      ExpressionAttributeValues: { ":now": now, ":since": since },
    });
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: webhookHealthKey(id, region), ConsistentRead: true }),
    );
    return (out.Item?.failingSince as string | undefined) ?? now;
  }

  /** Notes a delivery that succeeded in `region`: the endpoint is failing there no more. */
  async markHealthy(id: string, region: string): Promise<void> {
    await updateIf(this.db, {
      TableName: this.table,
      Key: webhookHealthKey(id, region),
      UpdateExpression: "REMOVE failingSince",
      ConditionExpression: "attribute_exists(failingSince)",
    });
  }

  /**
   * Disables an endpoint that failed in `region` for too long; false when that region disabled it
   * already since it was last enabled (`since`).
   */
  async disable(id: string, region: string, reason: string, now: string, since: string): Promise<boolean> {
    return updateIf(this.db, {
      TableName: this.table,
      Key: webhookHealthKey(id, region),
      UpdateExpression: "SET disabledAt = :now, disabledReason = :reason",
      ConditionExpression: "attribute_not_exists(disabledAt) OR disabledAt < :since",
      ExpressionAttributeValues: { ":now": now, ":reason": reason, ":since": since },
    });
  }

  /** Every region's health of one endpoint, or of all of them. */
  private async health(consistent: boolean, id?: string): Promise<Map<string, EndpointHealth[]>> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: id ? "pk = :pk AND begins_with(sk, :id)" : "pk = :pk",
      ExpressionAttributeValues: { ":pk": WEBHOOK_HEALTH_PK, ...(id ? { ":id": `${id}#` } : {}) },
      ConsistentRead: consistent,
    });
    const byEndpoint = new Map<string, EndpointHealth[]>();
    for (const item of items) {
      const sk = item.sk as string;
      const at = sk.lastIndexOf("#");
      const endpoint = sk.slice(0, at);
      const list = byEndpoint.get(endpoint) ?? [];
      list.push({
        region: sk.slice(at + 1),
        ...(item.failingSince ? { failingSince: item.failingSince as string } : {}),
        ...(item.disabledAt ? { disabledAt: item.disabledAt as string } : {}),
        ...(item.disabledReason ? { disabledReason: item.disabledReason as string } : {}),
      });
      byEndpoint.set(endpoint, list);
    }
    return byEndpoint;
  }
}

function withState(settings: WebhookSettings, health: Map<string, EndpointHealth[]>): Webhook {
  return { ...settings, ...endpointState(settings, health.get(settings.id) ?? []) };
}

function toSettings(item: Record<string, unknown>): WebhookSettings {
  const { pk: _pk, sk: _sk, type: _type, failingSince: _f, disabledReason: _d, ...rest } = item;
  return rest as unknown as WebhookSettings;
}
