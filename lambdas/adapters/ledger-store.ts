import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  emptyCounts,
  LEDGER_SHARDS,
  ledgerKey,
  ledgerPk,
  RECIPIENT_STATUSES,
  type RecipientCounts,
  type RecipientStatus,
} from "../domain/ledger.ts";
import { chunk, mapLimit, sleep } from "../shared/concurrency.ts";
import { isConditionalFailure } from "./dynamo-errors.ts";

export interface LedgerItem {
  readonly campaignId: string;
  readonly email: string;
  readonly status: RecipientStatus;
  readonly attempts: number;
  readonly region?: string;
  readonly sesMessageId?: string;
  readonly error?: string;
  /** Why a recipient was suppressed or cancelled. */
  readonly reason?: string;
  readonly leaseUntil?: number;
  readonly updatedAt?: string;
}

export type ClaimResult =
  | { readonly claimed: true; readonly attempt: number }
  | { readonly claimed: false; readonly current?: LedgerItem };

export interface RecipientPage {
  readonly items: LedgerItem[];
  readonly nextCursor?: string;
}

interface Cursor {
  s: number;
  k?: Record<string, string>;
}

/**
 * The delivery ledger (see domain/ledger.ts for the state machine). Every transition is a
 * conditional write, so two workers holding the same recipient can never both move it forward.
 */
export class LedgerStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retentionSeconds = 90 * 24 * 3600,
  ) {}

  /** A recipient's ledger item as the fan-out first writes it. */
  private queuedItem(campaignId: string, email: string, nowMs: number): Record<string, unknown> {
    return {
      ...ledgerKey(campaignId, email),
      campaignId,
      email,
      status: "queued",
      attempts: 0,
      updatedAt: new Date(nowMs).toISOString(),
      expiresAt: Math.floor(nowMs / 1000) + this.retentionSeconds,
    };
  }

  /**
   * Writes `queued` items for recipients that have none yet; existing items (from an earlier,
   * interrupted fan-out) are left as they are. Returns how many were new.
   */
  async createQueued(campaignId: string, emails: readonly string[], nowMs: number): Promise<number> {
    const created = await mapLimit(emails, 50, async (email) => {
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: this.queuedItem(campaignId, email, nowMs),
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
        return 1;
      } catch (error) {
        if (isConditionalFailure(error)) return 0;
        throw error;
      }
    });
    return created.reduce<number>((a, b) => a + b, 0);
  }

  /**
   * Writes `queued` items in batches of 25, unconditionally: only for recipients known to have no
   * item yet (a page the fan-out has never started before, under its lease), where it is 25 times
   * fewer requests than conditional puts for the same write units.
   */
  async createQueuedFresh(campaignId: string, emails: readonly string[], nowMs: number): Promise<number> {
    await mapLimit(chunk(emails, 25), 8, async (group) => {
      let requests: Record<string, unknown>[] | undefined = group.map((email) => ({
        PutRequest: { Item: this.queuedItem(campaignId, email, nowMs) },
      }));
      for (let attempt = 0; requests && requests.length > 0; attempt++) {
        if (attempt >= 8) throw new Error("DynamoDB left ledger writes unprocessed after 8 attempts");
        if (attempt > 0) await sleep(50 * 2 ** attempt);
        const out: BatchWriteCommandOutput = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: requests as never } }),
        );
        requests = out.UnprocessedItems?.[this.table] as Record<string, unknown>[] | undefined;
      }
    });
    return emails.length;
  }

  /**
   * Claims a recipient for sending: `queued → sending`, or re-claims a `sending` item whose lease
   * has expired (its worker died). Returns the current item when the claim is refused.
   */
  async claim(campaignId: string, email: string, nowMs: number, leaseMs: number): Promise<ClaimResult> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: ledgerKey(campaignId, email),
          UpdateExpression:
            "SET #status = :sending, leaseUntil = :lease, attempts = attempts + :one, updatedAt = :now",
          ConditionExpression: "#status = :queued OR (#status = :sending AND leaseUntil < :nowMs)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":sending": "sending",
            ":queued": "queued",
            ":lease": nowMs + leaseMs,
            ":nowMs": nowMs,
            ":one": 1,
            ":now": new Date(nowMs).toISOString(),
          },
          ReturnValues: "UPDATED_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { claimed: true, attempt: Number(out.Attributes?.attempts ?? 1) };
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
      const item = (error as { Item?: Record<string, unknown> }).Item;
      return { claimed: false, ...(item ? { current: unmarshalled(item) } : {}) };
    }
  }

  /**
   * Marks an unsent recipient of a cancelled campaign `cancelled`: one still `queued`, or `sending`
   * under an expired lease (its worker died). A recipient being sent right now is left to its worker.
   */
  async cancel(campaignId: string, email: string, nowMs: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: ledgerKey(campaignId, email),
          UpdateExpression: "SET #status = :cancelled, reason = :reason, updatedAt = :now REMOVE leaseUntil",
          ConditionExpression: "#status = :queued OR (#status = :sending AND leaseUntil < :nowMs)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":cancelled": "cancelled",
            ":reason": "campaign cancelled",
            ":queued": "queued",
            ":sending": "sending",
            ":nowMs": nowMs,
            ":now": new Date(nowMs).toISOString(),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Recipients of a campaign still waiting (queued, or sending under an expired lease), shard by
   * shard, in pages: what a cancel sweeps and what a stalled campaign re-enqueues.
   */
  async pending(campaignId: string, nowMs: number, limit: number): Promise<string[]> {
    const emails: string[] = [];
    for (let shard = 0; shard < LEDGER_SHARDS && emails.length < limit; shard++) {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: "pk = :pk",
            FilterExpression: "#status = :queued OR (#status = :sending AND leaseUntil < :nowMs)",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":pk": ledgerPk(campaignId, shard),
              ":queued": "queued",
              ":sending": "sending",
              ":nowMs": nowMs,
            },
            ProjectionExpression: "email",
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }),
        );
        emails.push(...(out.Items ?? []).map((item) => item.email as string));
        start = out.LastEvaluatedKey;
      } while (start && emails.length < limit);
    }
    return emails.slice(0, limit);
  }

  /** Records the outcome of a claimed send. Returns false if the claim was lost to another worker. */
  async complete(
    campaignId: string,
    email: string,
    attempt: number,
    outcome:
      | { status: "sent"; region: string; sesMessageId: string }
      | { status: "failed"; region?: string; error: string }
      | { status: "suppressed" | "cancelled"; reason: string }
      | { status: "queued"; error: string },
    nowMs: number,
  ): Promise<boolean> {
    const values: Record<string, unknown> = {
      ":status": outcome.status,
      ":sending": "sending",
      ":attempt": attempt,
      ":now": new Date(nowMs).toISOString(),
    };
    const sets = ["#status = :status", "updatedAt = :now"];
    if ("region" in outcome && outcome.region) {
      sets.push("#region = :region");
      values[":region"] = outcome.region;
    }
    if (outcome.status === "sent") {
      sets.push("sesMessageId = :mid");
      values[":mid"] = outcome.sesMessageId;
    } else if ("reason" in outcome) {
      sets.push("reason = :reason");
      values[":reason"] = outcome.reason.slice(0, 200);
    } else {
      sets.push("#error = :error");
      values[":error"] = outcome.error.slice(0, 500);
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: ledgerKey(campaignId, email),
          UpdateExpression: `SET ${sets.join(", ")} REMOVE leaseUntil`,
          ConditionExpression: "#status = :sending AND attempts = :attempt",
          ExpressionAttributeNames: {
            "#status": "status",
            ...("region" in outcome && outcome.region ? { "#region": "region" } : {}),
            ...("error" in outcome ? { "#error": "error" } : {}),
          },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /** Counts a campaign's recipients by status, reading every shard in parallel (strongly consistent). */
  async count(campaignId: string): Promise<RecipientCounts> {
    const perShard = await mapLimit([...Array(LEDGER_SHARDS).keys()], LEDGER_SHARDS, async (shard) => {
      const counts = emptyCounts();
      let start: Record<string, unknown> | undefined;
      do {
        const out = await this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": ledgerPk(campaignId, shard) },
            ProjectionExpression: "#status",
            ExpressionAttributeNames: { "#status": "status" },
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }),
        );
        for (const item of out.Items ?? []) {
          const status = item.status as RecipientStatus;
          if (RECIPIENT_STATUSES.includes(status)) counts[status]++;
          counts.total++;
        }
        start = out.LastEvaluatedKey;
      } while (start);
      return counts;
    });
    const total = emptyCounts();
    for (const counts of perShard)
      for (const key of Object.keys(total) as (keyof RecipientCounts)[]) total[key] += counts[key];
    return total;
  }

  /** Lists recipients shard by shard; the cursor is opaque to clients. */
  async list(
    campaignId: string,
    status: RecipientStatus | undefined,
    limit: number,
    cursor?: string,
  ): Promise<RecipientPage> {
    let position = cursor ? decodeCursor(cursor) : { s: 0 };
    if (
      position.k &&
      (position.k.pk !== ledgerPk(campaignId, position.s) || !position.k.sk?.startsWith("R#"))
    ) {
      throw new InvalidCursorError("cursor is not valid");
    }
    const items: LedgerItem[] = [];
    while (position.s < LEDGER_SHARDS && items.length < limit) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ...(status
            ? { FilterExpression: "#status = :status", ExpressionAttributeNames: { "#status": "status" } }
            : {}),
          ExpressionAttributeValues: {
            ":pk": ledgerPk(campaignId, position.s),
            ...(status ? { ":status": status } : {}),
          },
          ExclusiveStartKey: position.k,
          Limit: limit - items.length,
        }),
      );
      items.push(...(out.Items ?? []).map(unmarshalled));
      position = out.LastEvaluatedKey
        ? { s: position.s, k: out.LastEvaluatedKey as Record<string, string> }
        : { s: position.s + 1 };
    }
    return { items, ...(position.s < LEDGER_SHARDS ? { nextCursor: encodeCursor(position) } : {}) };
  }
}

function unmarshalled(item: Record<string, unknown>): LedgerItem {
  return {
    campaignId: item.campaignId as string,
    email: item.email as string,
    status: item.status as RecipientStatus,
    attempts: Number(item.attempts ?? 0),
    ...(item.region ? { region: item.region as string } : {}),
    ...(item.sesMessageId ? { sesMessageId: item.sesMessageId as string } : {}),
    ...(item.error ? { error: item.error as string } : {}),
    ...(item.reason ? { reason: item.reason as string } : {}),
    ...(item.leaseUntil ? { leaseUntil: Number(item.leaseUntil) } : {}),
    ...(item.updatedAt ? { updatedAt: item.updatedAt as string } : {}),
  };
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
}

export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
}

function decodeCursor(raw: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Cursor;
    if (!Number.isInteger(parsed.s) || parsed.s < 0 || parsed.s >= LEDGER_SHARDS) throw new Error("shard");
    if (parsed.k !== undefined && (typeof parsed.k !== "object" || typeof parsed.k.pk !== "string"))
      throw new Error("key");
    return parsed;
  } catch {
    throw new InvalidCursorError("cursor is not valid");
  }
}
