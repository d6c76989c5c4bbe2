import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { ControlIntent, IntentAction } from "../domain/ownership.ts";
import { CAMPAIGN_INTENT_PREFIX, campaignIntentKey, campaignPk } from "./dynamo/keys.ts";

/**
 * Control calls for a campaign another region owns (`CAMPAIGN#<id>` / `INTENT#<region>`): each
 * region writes only its own item, holding its latest call, so a pause asked of one region can never
 * be overwritten by another region's write. The owner reads them (they arrive with the replication
 * lag) and applies them (usecases/campaign-ownership.ts).
 */
export class CampaignIntentStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    /** The region this function runs in: the only item it writes. */
    private readonly region: string,
  ) {}

  async put(campaignId: string, action: IntentAction, at: string, reason?: string): Promise<ControlIntent> {
    const intent: ControlIntent = { region: this.region, action, at, ...(reason ? { reason } : {}) };
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...campaignIntentKey(campaignId, this.region),
          type: "campaign-intent",
          campaignId,
          ...intent,
        },
      }),
    );
    return intent;
  }

  /** Every region's latest intent for the campaign, as this region's replica has them. */
  async list(campaignId: string): Promise<ControlIntent[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": campaignPk(campaignId), ":prefix": CAMPAIGN_INTENT_PREFIX },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(toIntent);
  }
}

export function toIntent(item: Record<string, unknown>): ControlIntent {
  return {
    region: item.region as string,
    action: item.action as IntentAction,
    at: item.at as string,
    ...(item.reason ? { reason: item.reason as string } : {}),
  };
}
