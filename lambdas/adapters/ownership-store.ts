import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { OwnerRecord } from "../domain/ownership.ts";
import { isConditionalFailure, isReplicatedWriteConflict } from "./dynamo/errors.ts";
import { campaignLeaseKey, campaignOwnerKey } from "./dynamo/keys.ts";

/**
 * Campaign owners (`CAMPAIGN#<id>` / `OWNER`, and `LEASE#<region>` without a coordination table):
 * the only writer of both. It lives in the
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
    /**
     * Whether the table is strongly consistent across regions (the coordination table). Without it,
     * renewals go to the renewing region's own lease item instead of the owner item: a renewal by
     * a region coming back from an outage, written before the takeover has replicated to it, would
     * otherwise win last-writer-wins over the takeover and hand the campaign back to it.
     */
    private readonly strong: boolean,
  ) {}

  async get(campaignId: string): Promise<OwnerRecord | undefined> {
    const owner = await this.read(campaignOwnerKey(campaignId));
    if (!owner) return undefined;
    const record = toRecord(campaignId, owner);
    if (this.strong) return record;
    const lease = await this.read(campaignLeaseKey(campaignId, record.ownerRegion));
    return lease && Number(lease.epoch) === record.epoch
      ? {
          ...record,
          leaseUntil: Math.max(record.leaseUntil, Number(lease.leaseUntil)),
          ...(typeof lease.finishedAt === "string" ? { finishedAt: lease.finishedAt } : {}),
        }
      : record;
  }

  private async read(key: { pk: string; sk: string }): Promise<Record<string, unknown> | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    return out.Item;
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

  /** Extends the lease of the owner `record` names; undefined if it is no longer the owner at that epoch. */
  async renew(record: OwnerRecord, nowMs: number, leaseMs: number): Promise<OwnerRecord | undefined> {
    if (!this.strong) {
      // The region's own lease item: only it writes it. Whether it still owns the campaign was read
      // from the owner item just before (as this region's replica has it). An update, not a put:
      // it keeps the item's finishedAt.
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignLeaseKey(record.campaignId, record.ownerRegion),
          UpdateExpression: "SET epoch = :epoch, leaseUntil = :until",
          ExpressionAttributeValues: { ":epoch": record.epoch, ":until": nowMs + leaseMs },
        }),
      );
      return { ...record, leaseUntil: nowMs + leaseMs };
    }
    const renewed = await this.updateOwnerAtEpoch(record, "SET leaseUntil = :until", {
      ":until": nowMs + leaseMs,
    });
    return renewed ? { ...record, leaseUntil: nowMs + leaseMs } : undefined;
  }

  /**
   * Records that the owner `record` names finished the campaign: nobody takes it over from then on
   * (mayTakeOver). In the owner item at the owner's epoch, or without a coordination table in the
   * owner's own lease item, as its renewals are. Nothing when another region owns it by now.
   */
  async finish(record: OwnerRecord, at: string): Promise<void> {
    if (!this.strong) {
      // The lease item may not exist yet (a campaign that finished before its first renewal): it
      // gets the lease the owner item holds.
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignLeaseKey(record.campaignId, record.ownerRegion),
          UpdateExpression:
            "SET finishedAt = :at, epoch = :epoch, leaseUntil = if_not_exists(leaseUntil, :until)",
          ExpressionAttributeValues: { ":at": at, ":epoch": record.epoch, ":until": record.leaseUntil },
        }),
      );
      return;
    }
    await this.updateOwnerAtEpoch(record, "SET finishedAt = :at", { ":at": at });
  }

  /**
   * Updates the owner item only while `record`'s region still owns the campaign at `record`'s epoch
   * (coordination table): false, writing nothing, once another region took it over.
   */
  private async updateOwnerAtEpoch(
    record: OwnerRecord,
    update: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: campaignOwnerKey(record.campaignId),
          UpdateExpression: update,
          ConditionExpression: "ownerRegion = :region AND epoch = :epoch",
          ExpressionAttributeValues: { ...values, ":region": record.ownerRegion, ":epoch": record.epoch },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error) || isReplicatedWriteConflict(error)) return false;
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
          // Without a coordination table the lease lives in the owner's lease item: the caller
          // judged it (mayTakeOver) from this region's replica; the epoch keeps two takeovers apart.
          ConditionExpression: this.strong
            ? "epoch = :epoch AND leaseUntil < :now AND attribute_not_exists(finishedAt)"
            : "epoch = :epoch",
          ExpressionAttributeValues: {
            ":region": region,
            ":next": current.epoch + 1,
            ":until": nowMs + leaseMs,
            ":at": new Date(nowMs).toISOString(),
            ":epoch": current.epoch,
            ...(this.strong ? { ":now": nowMs } : {}),
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
    ...(typeof item.finishedAt === "string" ? { finishedAt: item.finishedAt } : {}),
  };
}
