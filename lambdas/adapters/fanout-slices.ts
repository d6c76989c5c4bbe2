import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { batchWriteAll } from "./dynamo/batch.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { fanoutSliceKey, fanoutSlicePk, fanoutSlicePrefix } from "./dynamo/keys.ts";
import { queryPrefix } from "./dynamo/query.ts";
import type { LeasedCheckpoint, PageLease } from "./fanout-lease.ts";

/** Slice items outlive any fan-out by far, then expire. */
const SLICE_TTL_SECONDS = 30 * 86_400;

/**
 * A slice of a campaign's list: the subscribers after `after` (a key cursor; the list's start when
 * absent) up to and including `last`. One fan-out worker at a time writes its ledger items and send
 * messages, a page at a time, under its lease and checkpoint.
 */
export interface FanoutSlice {
  readonly n: number;
  readonly after?: string;
  readonly last: string;
  /** The last page written (a key cursor); absent before the first. */
  readonly cursor?: string;
  readonly done: boolean;
  /** Until when (epoch ms) a worker holds the slice; absent when nobody does. */
  readonly leaseUntil?: number;
  readonly updatedAt: string;
}

/**
 * The slices of a campaign's fan-out runs (`FANOUT#<campaignId>` / `<run>#<n>`). A run is one
 * reading of the list by the owner region: a takeover starts a new run, and the old run's slices
 * are left to expire. Writer: the owner region's fan-out only.
 */
export class FanoutSlices {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly lease: LeasedCheckpoint,
  ) {}

  /** Creates slice `n` of a run unless it exists (the reader cutting it again after a crash). */
  async create(
    campaignId: string,
    run: string,
    n: number,
    range: { after?: string; last: string },
    now: Date,
  ) {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...fanoutSliceKey(campaignId, run, n),
            n,
            ...(range.after ? { after: range.after } : {}),
            last: range.last,
            updatedAt: now.toISOString(),
            expiresAt: Math.floor(now.getTime() / 1000) + SLICE_TTL_SECONDS,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }

  async get(campaignId: string, run: string, n: number): Promise<FanoutSlice | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: fanoutSliceKey(campaignId, run, n),
        ConsistentRead: true,
      }),
    );
    return out.Item ? toSlice(out.Item) : undefined;
  }

  /** Every slice of a run, strongly consistent, in order. */
  async list(campaignId: string, run: string): Promise<FanoutSlice[]> {
    const items = await queryPrefix(this.db, this.table, fanoutSlicePk(campaignId), fanoutSlicePrefix(run));
    return items.map(toSlice);
  }

  /**
   * Deletes a finished run's slices: their ranges name subscribers, so they do not outlive the
   * fan-out (an erased person must not stay behind in them). Their TTL catches what a crash leaves.
   */
  async removeRun(campaignId: string, run: string): Promise<void> {
    const items = await queryPrefix(this.db, this.table, fanoutSlicePk(campaignId), fanoutSlicePrefix(run));
    await batchWriteAll(
      this.db,
      this.table,
      items.map((item) => ({ DeleteRequest: { Key: { pk: String(item.pk), sk: String(item.sk) } } })),
    );
  }

  startPage(
    campaignId: string,
    run: string,
    n: number,
    owner: string,
    page: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<PageLease> {
    return this.lease.startPage(fanoutSliceKey(campaignId, run, n), owner, page, nowMs, leaseMs);
  }

  release(campaignId: string, run: string, n: number, owner: string): Promise<void> {
    return this.lease.release(fanoutSliceKey(campaignId, run, n), owner);
  }

  /** The watch put the slice back on the queue: it counts as moved now. */
  async markEnqueued(campaignId: string, run: string, n: number, now: string): Promise<void> {
    await this.lease.conditional(fanoutSliceKey(campaignId, run, n), {
      UpdateExpression: "SET updatedAt = :now",
      ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(fanoutDone)",
      ExpressionAttributeValues: { ":now": now },
    });
  }

  /** Moves the slice's checkpoint from `expected` to `next`; without `next` the slice is done. */
  advance(
    campaignId: string,
    run: string,
    n: number,
    expected: string | undefined,
    next: string | undefined,
    now: string,
  ) {
    return this.lease.advance(fanoutSliceKey(campaignId, run, n), expected, next, now);
  }
}

function toSlice(item: Record<string, unknown>): FanoutSlice {
  return {
    n: Number(item.n),
    ...(typeof item.after === "string" ? { after: item.after } : {}),
    last: String(item.last),
    ...(typeof item.fanoutCursor === "string" ? { cursor: item.fanoutCursor } : {}),
    done: item.fanoutDone === true,
    ...(typeof item.fanoutLeaseUntil === "number" ? { leaseUntil: item.fanoutLeaseUntil } : {}),
    updatedAt: String(item.updatedAt),
  };
}
