import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { CampaignAudience } from "../domain/segment.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { campaignKey } from "./dynamo/keys.ts";
import { LeasedCheckpoint } from "./fanout-lease.ts";
import { FanoutSlices } from "./fanout-slices.ts";

/**
 * The fan-out's part of a campaign's control item (`CAMPAIGN#<id>/#META`, CampaignStore's item):
 * the reader's lease, how far it has cut the list into slices (`fanoutCursor`, `fanoutSlices`), that
 * it reached the end (`fanoutRead`), the run those slices belong to (`fanoutRun`), once every
 * slice is written `fanoutDone`, and who the campaign is for (`audience`, fixed when the fan-out starts). The slices themselves are FanoutSlices' items. Writer: the owner
 * region's fan-out only (a takeover clears them all, CampaignStore.adopt, and a new run begins).
 */
export class FanoutCheckpoint {
  private readonly lease: LeasedCheckpoint;
  readonly slices: FanoutSlices;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {
    this.lease = new LeasedCheckpoint(db, table);
    this.slices = new FanoutSlices(db, table, this.lease);
  }

  /** Takes (or renews) the reader's lease; the first reader of a run names it with `run`. */
  startPage(id: string, owner: string, page: string, nowMs: number, leaseMs: number, run: string) {
    return this.lease.startPage(campaignKey(id), owner, page, nowMs, leaseMs, run);
  }

  /** Lets go of the reader's lease `owner` holds. */
  release(id: string, owner: string): Promise<void> {
    return this.lease.release(campaignKey(id), owner);
  }

  /**
   * Records that the reader cut the list up to `last` (a key cursor) into `slices` slices, from
   * `expected`, where the last call left it. With `end`, the list is read to its end: the reader's
   * lease is let go, and the fan-out is done once every slice is. Exactly once per cut.
   */
  cut(
    id: string,
    expected: string | undefined,
    last: string | undefined,
    slices: number,
    end: boolean,
    now: string,
  ) {
    const sets = ["fanoutSlices = :slices", "updatedAt = :now"];
    if (last !== undefined) sets.push("fanoutCursor = :last");
    if (end) sets.push("fanoutRead = :true");
    return this.lease.conditional(campaignKey(id), {
      UpdateExpression: `SET ${sets.join(", ")}${end ? " REMOVE fanoutOwner, fanoutLeaseUntil" : ""}`,
      ConditionExpression:
        expected === undefined
          ? "attribute_not_exists(fanoutCursor) AND attribute_not_exists(fanoutRead)"
          : "fanoutCursor = :expected AND attribute_not_exists(fanoutRead)",
      ExpressionAttributeValues: {
        ":slices": slices,
        ":now": now,
        ...(last !== undefined ? { ":last": last } : {}),
        ...(end ? { ":true": true } : {}),
        ...(expected === undefined ? {} : { ":expected": expected }),
      },
    });
  }

  /**
   * Marks done the fan-out of a campaign that names its recipients (a confirmation campaign): there
   * is no list to read and no slice. The addresses go with it: the ledger holds them from now on,
   * and an erasure finds them there. Idempotent.
   */
  async finishRecipients(id: string, now: string): Promise<void> {
    await this.lease.conditional(campaignKey(id), {
      UpdateExpression:
        "SET fanoutRead = :true, fanoutSlices = :zero, fanoutDone = :true, updatedAt = :now REMOVE recipients",
      ConditionExpression: "attribute_not_exists(fanoutDone)",
      ExpressionAttributeValues: { ":true": true, ":zero": 0, ":now": now },
    });
  }

  /**
   * Marks the fan-out done if run `run` read the whole list and cut exactly `slicesDone` slices:
   * called with the number of that run's slices found done. Every slice writer calls it after
   * marking its own slice done, and the reader after its last cut; on a strongly consistent read,
   * the last of them sees every slice done.
   */
  finish(id: string, run: string, slicesDone: number, now: string): Promise<boolean> {
    return this.lease.conditional(campaignKey(id), {
      // The cut's last key names a subscriber: it goes with the work it tracked.
      UpdateExpression: "SET fanoutDone = :true, updatedAt = :now REMOVE fanoutCursor",
      ConditionExpression:
        "fanoutRun = :run AND fanoutRead = :true AND fanoutSlices = :done AND attribute_not_exists(fanoutDone)",
      ExpressionAttributeValues: { ":true": true, ":now": now, ":run": run, ":done": slicesDone },
    });
  }

  /**
   * Fixes who the campaign is for (its segments as they are now) unless a fan-out fixed it before;
   * returns the audience the campaign has. Written by the reader when the fan-out starts.
   */
  async setAudience(id: string, audience: CampaignAudience): Promise<CampaignAudience> {
    try {
      await this.lease.update(campaignKey(id), {
        UpdateExpression: "SET audience = :audience",
        ConditionExpression: "attribute_not_exists(audience)",
        ExpressionAttributeValues: { ":audience": audience },
      });
      return audience;
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      const out = await this.db.send(
        new GetCommand({
          TableName: this.table,
          Key: campaignKey(id),
          ConsistentRead: true,
          ProjectionExpression: "audience",
        }),
      );
      if (!out.Item?.audience) throw error;
      return out.Item.audience as CampaignAudience;
    }
  }
}
