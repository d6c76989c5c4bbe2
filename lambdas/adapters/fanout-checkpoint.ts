import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import { updateIf } from "./dynamo/conditional.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { campaignKey } from "./dynamo/keys.ts";

/**
 * The fan-out's part of a campaign's control item (`CAMPAIGN#<id>/#META`, CampaignStore's item):
 * the lease one fan-out worker holds on the campaign, the page it is writing and the checkpoint it
 * has reached. Writer: the owner region's fan-out only (a takeover clears them, CampaignStore.adopt).
 */
export class FanoutCheckpoint {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Takes (or renews) the campaign's fan-out lease for `owner` and records which page it is about to
   * write. Only one fan-out worker writes a campaign at a time; returns false if another holds it.
   * Returns the page marker found before this call, so a worker can tell a page that was started
   * before (and may have ledger items already) from a fresh one.
   */
  async startPage(
    id: string,
    owner: string,
    page: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<{ acquired: boolean; previousPage?: string }> {
    try {
      const out = await this.update(id, {
        UpdateExpression: "SET fanoutOwner = :owner, fanoutLeaseUntil = :until, fanoutPage = :page",
        ConditionExpression:
          "attribute_not_exists(fanoutOwner) OR fanoutOwner = :owner OR fanoutLeaseUntil < :now",
        ExpressionAttributeValues: {
          ":owner": owner,
          ":until": nowMs + leaseMs,
          ":page": page,
          ":now": nowMs,
        },
        ReturnValues: "UPDATED_OLD",
      });
      const previous = out.Attributes?.fanoutPage as string | undefined;
      return { acquired: true, ...(previous ? { previousPage: previous } : {}) };
    } catch (error) {
      if (isConditionalFailure(error)) return { acquired: false };
      throw error;
    }
  }

  /**
   * Lets go of the fan-out lease `owner` holds (it handed the campaign on to a new invocation), so
   * the next worker need not wait for it to run out. Nothing happens if another worker holds it.
   */
  async release(id: string, owner: string): Promise<void> {
    await this.conditional(id, {
      UpdateExpression: "REMOVE fanoutOwner, fanoutLeaseUntil",
      ConditionExpression: "fanoutOwner = :owner",
      ExpressionAttributeValues: { ":owner": owner },
    });
  }

  /**
   * Advances the fan-out checkpoint from `expected` to `next`. The condition makes the checkpoint
   * move forward exactly once per page even when two fan-out workers race on one campaign.
   */
  async advance(
    id: string,
    expected: string | undefined,
    next: string | undefined,
    now: string,
  ): Promise<boolean> {
    const done = next === undefined;
    return this.conditional(id, {
      UpdateExpression: done
        ? "SET fanoutDone = :true, updatedAt = :now REMOVE fanoutCursor"
        : "SET fanoutCursor = :next, updatedAt = :now",
      ConditionExpression:
        expected === undefined
          ? "attribute_not_exists(fanoutCursor) AND attribute_not_exists(fanoutDone)"
          : "fanoutCursor = :expected",
      ExpressionAttributeValues: {
        ":now": now,
        ...(done ? { ":true": true } : { ":next": next }),
        ...(expected === undefined ? {} : { ":expected": expected }),
      },
    });
  }

  private update(id: string, input: Omit<UpdateCommandInput, "TableName" | "Key">) {
    return this.db.send(new UpdateCommand({ TableName: this.table, Key: campaignKey(id), ...input }));
  }

  private conditional(id: string, input: Omit<UpdateCommandInput, "TableName" | "Key">): Promise<boolean> {
    return updateIf(this.db, { TableName: this.table, Key: campaignKey(id), ...input });
  }
}
