import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import { updateIf } from "./dynamo/conditional.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import type { Key } from "./dynamo/keys.ts";

/** What taking a fan-out lease found. */
export interface PageLease {
  readonly acquired: boolean;
  /** The page marker found before this call: a page started before may have ledger items already. */
  readonly previousPage?: string;
  /** The fan-out run the control item names (set by the first reader; a takeover clears it). */
  readonly run?: string;
}

/**
 * A lease and a page checkpoint on one item: the campaign's control item for the fan-out's reader,
 * a slice item for the worker that writes the slice. One worker holds an item at a time; the
 * checkpoint moves forward exactly once per page even when two workers race.
 */
export class LeasedCheckpoint {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Takes (or renews) the lease on `key` for `owner` and records which page it is about to work on.
   * Returns false if another holds it. `run` is set on the item unless it names one already.
   */
  async startPage(
    key: Key,
    owner: string,
    page: string,
    nowMs: number,
    leaseMs: number,
    run?: string,
  ): Promise<PageLease> {
    try {
      const out = await this.update(key, {
        UpdateExpression: `SET fanoutOwner = :owner, fanoutLeaseUntil = :until, fanoutPage = :page${
          run ? ", fanoutRun = if_not_exists(fanoutRun, :run)" : ""
        }`,
        ConditionExpression:
          "attribute_not_exists(fanoutOwner) OR fanoutOwner = :owner OR fanoutLeaseUntil < :now",
        ExpressionAttributeValues: {
          ":owner": owner,
          ":until": nowMs + leaseMs,
          ":page": page,
          ":now": nowMs,
          ...(run ? { ":run": run } : {}),
        },
        ReturnValues: "ALL_OLD",
      });
      const previous = out.Attributes?.fanoutPage as string | undefined;
      const known = (out.Attributes?.fanoutRun as string | undefined) ?? run;
      return {
        acquired: true,
        ...(previous ? { previousPage: previous } : {}),
        ...(known ? { run: known } : {}),
      };
    } catch (error) {
      if (isConditionalFailure(error)) return { acquired: false };
      throw error;
    }
  }

  /** Lets go of the lease `owner` holds, so the next worker need not wait for it to run out. */
  async release(key: Key, owner: string): Promise<void> {
    await this.conditional(key, {
      UpdateExpression: "REMOVE fanoutOwner, fanoutLeaseUntil",
      ConditionExpression: "fanoutOwner = :owner",
      ExpressionAttributeValues: { ":owner": owner },
    });
  }

  /**
   * Advances the checkpoint from `expected` to `next`; without `next`, the item is done. The
   * condition makes it move forward exactly once per page.
   */
  async advance(
    key: Key,
    expected: string | undefined,
    next: string | undefined,
    now: string,
  ): Promise<boolean> {
    const done = next === undefined;
    return this.conditional(key, {
      UpdateExpression: done
        ? "SET fanoutDone = :true, updatedAt = :now REMOVE fanoutCursor, fanoutOwner, fanoutLeaseUntil"
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

  update(key: Key, input: Omit<UpdateCommandInput, "TableName" | "Key">) {
    return this.db.send(new UpdateCommand({ TableName: this.table, Key: key, ...input }));
  }

  conditional(key: Key, input: Omit<UpdateCommandInput, "TableName" | "Key">): Promise<boolean> {
    return updateIf(this.db, { TableName: this.table, Key: key, ...input });
  }
}
