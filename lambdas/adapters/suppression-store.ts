import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { addressDigest, ERASED, normalizeEmail } from "../domain/email.ts";
import { batchGetAll } from "./dynamo/batch.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { SUPPRESSION_PK, subscriberKey, suppressionItemKey } from "./dynamo/keys.ts";
import type { Page } from "./dynamo/cursor.ts";

/**
 * The account-wide suppression list (`SUPPRESSION/<normalized email>` in the audience table), its
 * only writer. Erasing a subscriber or a list keeps suppression items: that is how an erased address
 * stays unmailed. Erasing a person (DELETE /v1/people) replaces their entry by a hashed one
 * (`SUPPRESSION/sha256:<hex>`, reason `erased`): the address is recognised, never stored.
 */
export interface Suppression {
  readonly email: string;
  readonly reason: string;
  readonly createdAt: string;
}

/** The suppression key of an address: normalized when it parses, else as given. */
function suppressionKey(email: string): string {
  const check = normalizeEmail(email);
  return check.ok ? check.email : email.trim();
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
        Key: suppressionItemKey(key),
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
    return toSuppression(out.Attributes ?? {});
  }

  /**
   * Keeps only the digest of an erased person's address: the hashed entry first (so a send racing
   * the erasure already skips them), then the entry in clear goes.
   */
  async eraseAddress(email: string, now: string): Promise<void> {
    const digest = addressDigest(suppressionKey(email));
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: suppressionItemKey(digest),
        UpdateExpression:
          "SET email = :digest, reason = :erased, createdAt = if_not_exists(createdAt, :now), #type = :type",
        ExpressionAttributeNames: { "#type": "type" },
        ExpressionAttributeValues: {
          ":digest": digest,
          ":erased": ERASED,
          ":now": now,
          ":type": "suppression",
        },
      }),
    );
    await this.delete(email);
  }

  /** The address's entry: in clear, or the hashed one an erasure left; undefined when neither. */
  async find(email: string): Promise<Suppression | undefined> {
    const key = suppressionKey(email);
    const found = await batchGetAll(
      this.db,
      this.table,
      [suppressionItemKey(key), suppressionItemKey(addressDigest(key))],
      { consistent: true },
    );
    const clear = found.find((item) => item.sk === key);
    return clear ? toSuppression(clear) : found[0] && toSuppression(found[0]);
  }

  /** Removes an address; false when it was not on the list. */
  async delete(email: string): Promise<boolean> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: suppressionItemKey(suppressionKey(email)),
          ConditionExpression: "attribute_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  async list(limit: number, cursor?: string): Promise<Page<Suppression>> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": SUPPRESSION_PK },
        ExclusiveStartKey: decodeKeyCursor(cursor, SUPPRESSION_PK),
        Limit: limit,
      }),
    );
    const items = (out.Items ?? []).map(toSuppression);
    const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Which of `emails` are on the suppression list, in clear or hashed (an erased person). */
  async suppressedOf(emails: readonly string[]): Promise<Set<string>> {
    const keys = emails.map((email) => ({
      email,
      clear: suppressionItemKey(suppressionKey(email)),
      hashed: suppressionItemKey(addressDigest(suppressionKey(email))),
    }));
    const found = await batchGetAll(
      this.db,
      this.table,
      keys.flatMap((k) => [k.clear, k.hashed]),
      { consistent: true, projection: "pk, sk" },
    );
    const held = new Set(found.map((item) => `${String(item.pk)}|${String(item.sk)}`));
    const on = (key: { pk: string; sk: string }) => held.has(`${key.pk}|${key.sk}`);
    return new Set(keys.filter((k) => on(k.clear) || on(k.hashed)).map((k) => k.email));
  }

  /**
   * Why each of `emails` must not get mail from `listId` now (absent: send; `ERASED` for an erased
   * person): not `expected` (subscribed, or pending for a confirmation email), or suppressed. Reads the subscribers' current status and the suppression list (in clear and hashed) in
   * strongly consistent BatchGets (100 keys each), so an unsubscribe, a bounce or an erasure that
   * happened while the campaign was already running is honoured.
   */
  async reasonsFor(
    listId: string,
    emails: readonly string[],
    expected: "subscribed" | "pending" = "subscribed",
  ): Promise<Map<string, string>> {
    const found = await batchGetAll(
      this.db,
      this.table,
      emails.flatMap((email) => [
        subscriberKey(listId, email),
        suppressionItemKey(suppressionKey(email)),
        suppressionItemKey(addressDigest(suppressionKey(email))),
      ]),
      {
        consistent: true,
        projection: "pk, sk, #status, reason",
        names: { "#status": "status" },
      },
    );
    const byKey = new Map(found.map((item) => [`${String(item.pk)}|${String(item.sk)}`, item]));
    const get = (key: { pk: string; sk: string }) => byKey.get(`${key.pk}|${key.sk}`);
    const reasons = new Map<string, string>();
    for (const email of emails) {
      if (get(suppressionItemKey(addressDigest(suppressionKey(email))))) {
        reasons.set(email, ERASED);
        continue;
      }
      const suppression = get(suppressionItemKey(suppressionKey(email)));
      const subscriber = get(subscriberKey(listId, email));
      if (suppression)
        reasons.set(
          email,
          `suppression list: ${typeof suppression.reason === "string" ? suppression.reason : "suppressed"}`,
        );
      else if (!subscriber) reasons.set(email, "no longer on the list");
      else if (subscriber.status !== expected)
        reasons.set(
          email,
          expected === "pending" ? `${String(subscriber.status)}, not pending` : String(subscriber.status),
        );
    }
    return reasons;
  }
}

function toSuppression(item: Record<string, unknown>): Suppression {
  return { email: item.email as string, reason: item.reason as string, createdAt: item.createdAt as string };
}
