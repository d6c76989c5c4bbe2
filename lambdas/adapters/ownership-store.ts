import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { OwnerRecord } from "../domain/ownership.ts";
import { isConditionalFailure, isReplicatedWriteConflict } from "./dynamo/errors.ts";
import { campaignOwnerKey } from "./dynamo/keys.ts";

/**
 * Campaign owners (`CAMPAIGN#<id>` / `OWNER`): the only writer of the owner item. It lives in the
 * coordination table (multi-Region strong consistency: every region reads the latest write, and a
 * conditional write is checked against it) or, without one, in the audience table, where it
 * replicates like any other item. Only single-item conditional writes and strongly consistent reads
 * are used: MRSC tables support no transactions and no TTL, and two regions writing one item at
 * once get a ReplicatedWriteConflictException, which here means "another region won".
 */
export class OwnershipStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(campaignId: string): Promise<OwnerRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: campaignOwnerKey(campaignId), ConsistentRead: true }),
    );
    return out.Item ? toRecord(campaignId, out.Item) : undefined;
  }

  /**
   * Makes `region` the owner of a campaign nobody owns yet. Returns the owner afterwards: `region`
   * if it won, or whoever claimed it first.
   */
  async claim(campaignId: string, region: string, nowMs: number, leaseMs: number): Promise<OwnerRecord> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...campaignOwnerKey(campaignId),
            ownerRegion: region,
            epoch: 1,
            leaseUntil: nowMs + leaseMs,
            claimedAt: new Date(nowMs).toISOString(),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { campaignId, ownerRegion: region, epoch: 1, leaseUntil: nowMs + leaseMs };
    } catch (error) {
      if (!isConditionalFailure(error) && !isReplicatedWriteConflict(error)) throw error;
      const current = await this.get(campaignId);
      if (!current) throw error;
      return current;
    }
  }

  /** Extends the lease of the owner `record` names; false if it is no longer the owner at that epoch. */
  async renew(record: OwnerRecord, nowMs: number, leaseMs: number): Promise<OwnerRecord | undefined> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignOwnerKey(record.campaignId),
          UpdateExpression: "SET leaseUntil = :until",
          ConditionExpression: "ownerRegion = :region AND epoch = :epoch",
          ExpressionAttributeValues: {
            ":until": nowMs + leaseMs,
            ":region": record.ownerRegion,
            ":epoch": record.epoch,
          },
        }),
      );
      return { ...record, leaseUntil: nowMs + leaseMs };
    } catch (error) {
      if (isConditionalFailure(error) || isReplicatedWriteConflict(error)) return undefined;
      throw error;
    }
  }

  /**
   * Makes `region` the owner of a campaign whose owner's lease has run out (or, `force`d by hand
   * without a coordination table, whatever the lease says in this region's replica: the caller
   * checked it). The epoch grows by one. Undefined when the lease is still live, or another region
   * took the campaign over first.
   */
  async takeOver(
    current: OwnerRecord,
    region: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<OwnerRecord | undefined> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignOwnerKey(current.campaignId),
          UpdateExpression:
            "SET ownerRegion = :region, epoch = :next, leaseUntil = :until, takenOverAt = :at",
          ConditionExpression: "epoch = :epoch AND leaseUntil < :now",
          ExpressionAttributeValues: {
            ":region": region,
            ":next": current.epoch + 1,
            ":until": nowMs + leaseMs,
            ":at": new Date(nowMs).toISOString(),
            ":epoch": current.epoch,
            ":now": nowMs,
          },
        }),
      );
      return {
        campaignId: current.campaignId,
        ownerRegion: region,
        epoch: current.epoch + 1,
        leaseUntil: nowMs + leaseMs,
      };
    } catch (error) {
      if (isConditionalFailure(error) || isReplicatedWriteConflict(error)) return undefined;
      throw error;
    }
  }
}

function toRecord(campaignId: string, item: Record<string, unknown>): OwnerRecord {
  return {
    campaignId,
    ownerRegion: item.ownerRegion as string,
    epoch: Number(item.epoch),
    leaseUntil: Number(item.leaseUntil),
  };
}
