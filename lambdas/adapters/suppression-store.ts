import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { normalizeEmail } from "../domain/email.ts";
import { isConditionalFailure } from "./dynamo-errors.ts";

/**
 * The account-wide suppression list and the per-list subscriber status, in the audience table:
 *
 *   SUPPRESSION    <normalized email>   { email, reason, createdAt }
 *   LIST#<id>      SUB#<email>          { status: subscribed | unsubscribed | bounced | complained }
 *
 * (GDPR erasure keeps suppression items: that is how an erased address stays unmailed.)
 */
export interface Suppression {
  readonly email: string;
  readonly reason: string;
  readonly createdAt: string;
}

export interface SuppressionPage {
  readonly items: Suppression[];
  readonly nextCursor?: string;
}

export const SUPPRESSION_PK = "SUPPRESSION";

/** Feedback counters kept on the campaign item, under the `feedback` map attribute. */
export const FEEDBACK_COUNTERS = [
  "sent",
  "delivered",
  "bounced",
  "complained",
  "opened",
  "clicked",
  "unsubscribed",
] as const;
export type FeedbackCounter = (typeof FEEDBACK_COUNTERS)[number];

export function zeroCounters(): Record<FeedbackCounter, number> {
  return Object.fromEntries(FEEDBACK_COUNTERS.map((c) => [c, 0])) as Record<FeedbackCounter, number>;
}

/** The suppression key of an address: normalized when it parses, else as given. */
export function suppressionKey(email: string): string {
  const check = normalizeEmail(email);
  return check.ok ? check.email : email.trim();
}

export type UnsubscribeOutcome = "unsubscribed" | "unchanged";

export class InvalidSuppressionCursorError extends Error {
  override readonly name = "InvalidSuppressionCursorError";
}

export class SuppressionStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Adds an address. An existing entry keeps its first reason and date unless `overwrite` (a
   * person setting the reason through the API) is given.
   */
  async put(email: string, reason: string, now: string, overwrite = false): Promise<Suppression> {
    const key = suppressionKey(email);
    const out = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: SUPPRESSION_PK, sk: key },
        UpdateExpression: overwrite
          ? "SET email = :email, reason = :reason, createdAt = if_not_exists(createdAt, :now), updatedAt = :now, #type = :type"
          : "SET email = if_not_exists(email, :email), reason = if_not_exists(reason, :reason), createdAt = if_not_exists(createdAt, :now), #type = :type",
        ExpressionAttributeNames: { "#type": "type" },
        ExpressionAttributeValues: {
          ":email": key,
          ":reason": reason.slice(0, 200),
          ":now": now,
          ":type": "suppression",
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    const item = out.Attributes ?? {};
    return {
      email: item.email as string,
      reason: item.reason as string,
      createdAt: item.createdAt as string,
    };
  }

  /** Removes an address; false when it was not on the list. */
  async delete(email: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: SUPPRESSION_PK, sk: suppressionKey(email) },
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async list(limit: number, cursor?: string): Promise<SuppressionPage> {
    let start: Record<string, string> | undefined;
    if (cursor) {
      const sk = decodeCursor(cursor);
      start = { pk: SUPPRESSION_PK, sk };
    }
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": SUPPRESSION_PK },
        ExclusiveStartKey: start,
        Limit: limit,
      }),
    );
    const items = (out.Items ?? []).map((item) => ({
      email: item.email as string,
      reason: item.reason as string,
      createdAt: item.createdAt as string,
    }));
    const last = out.LastEvaluatedKey?.sk as string | undefined;
    return { items, ...(last ? { nextCursor: Buffer.from(last, "utf8").toString("base64url") } : {}) };
  }

  /**
   * Why `email` must not get mail from `listId` now, or undefined to send. Reads the subscriber's
   * current status and the suppression list in one strongly consistent BatchGet, so an unsubscribe
   * or a bounce that happened while the campaign was already running is honoured.
   */
  async reasonFor(listId: string, email: string): Promise<string | undefined> {
    const subscriberKey = { pk: `LIST#${listId}`, sk: `SUB#${email}` };
    const suppressionKeyOf = { pk: SUPPRESSION_PK, sk: suppressionKey(email) };
    let keys: Record<string, string>[] = [subscriberKey, suppressionKeyOf];
    const found: Record<string, unknown>[] = [];
    for (let attempt = 0; keys.length > 0; attempt++) {
      const out = await this.db.send(
        new BatchGetCommand({
          RequestItems: {
            [this.table]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: "pk, sk, #status, reason",
              ExpressionAttributeNames: { "#status": "status" },
            },
          },
        }),
      );
      found.push(...(out.Responses?.[this.table] ?? []));
      keys = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, string>[];
      if (keys.length > 0) {
        if (attempt >= 4)
          throw Object.assign(new Error("BatchGet left keys unprocessed"), { name: "ThrottlingException" });
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
    const suppression = found.find((item) => item.pk === SUPPRESSION_PK);
    if (suppression) return `suppression list: ${String(suppression.reason ?? "suppressed")}`;
    const subscriber = found.find((item) => item.pk === subscriberKey.pk);
    if (!subscriber) return "no longer on the list";
    if (subscriber.status !== "subscribed") return String(subscriber.status);
    return undefined;
  }

  /**
   * One-click unsubscribe: `subscribed → unsubscribed` on the list, counted once on the campaign
   * the link came from (the status change is the "first time" condition, in the same transaction
   * as the counter). Repeating it, or unsubscribing someone who is not subscribed, changes nothing.
   */
  async unsubscribe(
    listId: string,
    email: string,
    campaignId: string | undefined,
    now: string,
  ): Promise<UnsubscribeOutcome> {
    const subscriberUpdate = {
      TableName: this.table,
      Key: { pk: `LIST#${listId}`, sk: `SUB#${email}` },
      UpdateExpression: "SET #status = :unsubscribed, unsubscribedAt = :now, updatedAt = :now",
      ConditionExpression: "#status = :subscribed",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":unsubscribed": "unsubscribed",
        ":subscribed": "subscribed",
        ":now": now,
      },
    };
    if (campaignId && (await this.ensureCounters(campaignId))) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: subscriberUpdate },
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: `CAMPAIGN#${campaignId}`, sk: "#META" },
                  UpdateExpression: "ADD #feedback.#counter :one",
                  ConditionExpression: "attribute_exists(pk)",
                  ExpressionAttributeNames: { "#feedback": "feedback", "#counter": "unsubscribed" },
                  ExpressionAttributeValues: { ":one": 1 },
                },
              },
            ],
          }),
        );
        return "unsubscribed";
      } catch (error) {
        const reasons = cancellationCodes(error);
        if (reasons?.[0] === "ConditionalCheckFailed") return "unchanged";
        // The campaign vanished between the two calls: unsubscribe without counting.
        if (reasons?.[1] !== "ConditionalCheckFailed") throw error;
      }
    }
    try {
      await this.db.send(new UpdateCommand(subscriberUpdate));
      return "unsubscribed";
    } catch (error) {
      if (isConditionalFailure(error)) return "unchanged";
      throw error;
    }
  }

  /** Makes sure the campaign has its `feedback` counter map; false when there is no such campaign. */
  async ensureCounters(campaignId: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `CAMPAIGN#${campaignId}`, sk: "#META" },
          UpdateExpression: "SET #feedback = if_not_exists(#feedback, :zero)",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#feedback": "feedback" },
          ExpressionAttributeValues: { ":zero": zeroCounters() },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }
}

/** The per-item codes of a cancelled transaction (`ConditionalCheckFailed`, `None`, …). */
export function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if ((error as Error)?.name !== "TransactionCanceledException") return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return reasons?.map((r) => r.Code);
}

function decodeCursor(cursor: string): string {
  if (cursor.length > 600 || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new InvalidSuppressionCursorError("cursor is not valid");
  const sk = Buffer.from(cursor, "base64url").toString("utf8");
  if (!sk || !normalizeEmail(sk).ok) throw new InvalidSuppressionCursorError("cursor is not valid");
  return sk;
}
