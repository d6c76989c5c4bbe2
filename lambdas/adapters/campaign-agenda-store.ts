import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { TransactItem } from "./dynamo/batch.ts";
import { ACTIVE_PK, activeKey, SCHEDULED_PK, scheduledKey } from "./dynamo/keys.ts";
import { queryAll } from "./dynamo/query.ts";

/**
 * The scheduler's agenda in the audience table: `SCHEDULED/<scheduledAt>#<id>` (a scheduled
 * campaign, due when its time has come) and `ACTIVE/<id>` (a campaign on its way, which the
 * scheduler watches until it ends). The only writer of both.
 */
export class CampaignAgendaStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** The write that puts a campaign on the agenda at `scheduledAt`, for CampaignStore.schedule's transaction. */
  scheduledEntry(id: string, scheduledAt: string): TransactItem {
    return {
      Put: { TableName: this.table, Item: { ...scheduledKey(scheduledAt, id), type: "scheduled", id } },
    };
  }

  /** The write that takes a campaign off the agenda, for CampaignStore.deleteUnstarted's transaction. */
  unscheduledEntry(id: string, scheduledAt: string): TransactItem {
    return { Delete: { TableName: this.table, Key: scheduledKey(scheduledAt, id) } };
  }

  /** Scheduled campaigns whose time is at or before `now` (ISO 8601, UTC). */
  async dueScheduled(now: string): Promise<{ id: string; entry: string }[]> {
    // "#" sorts after every character of an ISO timestamp, so `now#~` bounds every entry at `now`.
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND sk <= :until",
      ExpressionAttributeValues: { ":pk": SCHEDULED_PK, ":until": `${now}#~` },
      ConsistentRead: true,
    });
    return items.map((item) => ({ id: item.id as string, entry: item.sk as string }));
  }
  async clearScheduled(entry: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: { pk: SCHEDULED_PK, sk: entry } }));
  }
  /**
   * Registers a campaign as sending, so the scheduler can finish or resume it. The entry carries the
   * list, so that deleting a list can see who is sending to it without reading every campaign.
   */
  async markActive(id: string, listId: string, now: string): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...activeKey(id), type: "active", since: now, listId },
      }),
    );
  }
  /**
   * Campaigns on their way that may be sending to `listId`: those whose entry names it, and those
   * whose entry names no list (written before entries carried one; the caller reads the campaign).
   */
  async activeOn(listId: string): Promise<{ id: string; listId?: string }[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk",
      FilterExpression: "listId = :listId OR attribute_not_exists(listId)",
      ExpressionAttributeValues: { ":pk": ACTIVE_PK, ":listId": listId },
      ConsistentRead: true,
    });
    return items.map((item) => ({
      id: item.sk as string,
      ...(typeof item.listId === "string" ? { listId: item.listId } : {}),
    }));
  }
  async listActive(): Promise<string[]> {
    const items = await queryAll(this.db, {
      TableName: this.table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": ACTIVE_PK },
    });
    return items.map((item) => item.sk as string);
  }
  async clearActive(id: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: activeKey(id) }));
  }
}
