import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { SegmentRule } from "../contracts/segment-rule.ts";
import { transactWrite } from "./dynamo/batch.ts";
import { isCancelledByCondition, isConditionalFailure } from "./dynamo/errors.ts";
import { segmentIndexKey, segmentKey, SEGMENTS_PK } from "./dynamo/keys.ts";
import type { Page } from "./dynamo/cursor.ts";
import { createIndexed, oneItem, pageIndexed } from "./dynamo/indexed.ts";

export interface Segment {
  readonly id: string;
  readonly name: string;
  readonly rule: SegmentRule;
  /** 1 at creation, one more at each change: a campaign records the version it was sent with. */
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * Saved segments (`SEGMENT#<id>/#META`) and their paging index (`SEGMENTS`), in the audience table:
 * the only writer of those items. A segment is written by the API of the region that took the
 * request; a campaign copies the rule when it is sent, so a later change (or two regions changing
 * one segment within a replication lag, where the last writer wins) never alters a campaign on its way.
 */
export class SegmentStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async create(segment: Segment): Promise<void> {
    await createIndexed(
      this.db,
      this.table,
      { key: segmentKey(segment.id), item: { type: "segment", ...segment } },
      { key: segmentIndexKey(segment.createdAt, segment.id), type: "segment-index", id: segment.id },
    );
  }

  async get(id: string, consistent = false): Promise<Segment | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: segmentKey(id), ConsistentRead: consistent }),
    );
    return out.Item ? toSegment(out.Item) : undefined;
  }

  /** Segments, newest first. */
  page(limit: number, cursor?: string): Promise<Page<Segment>> {
    return pageIndexed(this.db, this.table, SEGMENTS_PK, oneItem(segmentKey, toSegment), limit, cursor);
  }

  /** Changes a segment's name or rule, one version up; undefined when there is no such segment. */
  async update(
    id: string,
    change: { name?: string; rule?: SegmentRule },
    now: string,
  ): Promise<Segment | undefined> {
    const sets = ["version = version + :one", "updatedAt = :now"];
    if (change.name !== undefined) sets.push("#name = :name");
    if (change.rule !== undefined) sets.push("#rule = :rule");
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: segmentKey(id),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: {
            ...(change.name !== undefined ? { "#name": "name" } : {}),
            ...(change.rule !== undefined ? { "#rule": "rule" } : {}),
          },
          ExpressionAttributeValues: {
            ":one": 1,
            ":now": now,
            ...(change.name !== undefined ? { ":name": change.name } : {}),
            ...(change.rule !== undefined ? { ":rule": change.rule } : {}),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return toSegment(out.Attributes ?? {});
    } catch (error) {
      if (isConditionalFailure(error)) return undefined;
      throw error;
    }
  }

  /** Deletes a segment and its index entry; false when there is no such segment. */
  async delete(segment: Segment): Promise<boolean> {
    try {
      await transactWrite(this.db, [
        {
          Delete: {
            TableName: this.table,
            Key: segmentKey(segment.id),
            ConditionExpression: "attribute_exists(pk)",
          },
        },
        { Delete: { TableName: this.table, Key: segmentIndexKey(segment.createdAt, segment.id) } },
      ]);
      return true;
    } catch (error) {
      if (isCancelledByCondition(error)) return false;
      throw error;
    }
  }
}

function toSegment(item: Record<string, unknown>): Segment {
  return {
    id: item.id as string,
    name: item.name as string,
    rule: item.rule as SegmentRule,
    version: Number(item.version),
    createdAt: item.createdAt as string,
    updatedAt: item.updatedAt as string,
  };
}
