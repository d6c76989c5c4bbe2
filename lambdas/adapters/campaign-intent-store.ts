import { type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { ControlIntent, IntentAction } from "../domain/ownership.ts";
import { campaignIntentKey } from "./dynamo/keys.ts";

/**
 * Control calls for a campaign another region owns (`CAMPAIGN#<id>` / `INTENT#<region>`): each
 * region writes only its own item, holding its latest call, so a pause asked of one region can never
 * be overwritten by another region's write. The owner reads them (they arrive with the replication
 * lag) with the campaign (CampaignStore.get reads its whole partition) and applies them
 * (usecases/owner-duties.ts).
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
}

export function toIntent(item: Record<string, unknown>): ControlIntent {
  return {
    region: item.region as string,
    action: item.action as IntentAction,
    at: item.at as string,
    ...(item.reason ? { reason: item.reason as string } : {}),
  };
}
