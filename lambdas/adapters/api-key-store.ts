import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { transactWrite } from "./dynamo/batch.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { APIKEYS_PK, apiKeyIndexKey, apiKeyKey } from "./dynamo/keys.ts";
import type { Page } from "./dynamo/cursor.ts";

interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
}

export type ApiKeyLookup =
  | { readonly kind: "active"; readonly record: ApiKeyRecord }
  | { readonly kind: "revoked" }
  | { readonly kind: "unknown" };

export interface ApiKeyView extends ApiKeyRecord {
  readonly createdAt: string;
}

/**
 * API keys in the audience table: `APIKEY#<hash>` (looked up on every request; the hash is the
 * SHA-256 of the secret, never the secret) and an `APIKEYS/<id>` index entry for listing and
 * revoking. The only writer of both.
 */
export class ApiKeyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * The key with this hash: `revoked` when a revocation is recorded under it (the bootstrap admin
   * key, which lives in Secrets Manager, is revoked that way), `unknown` when nothing is.
   */
  async get(hash: string): Promise<ApiKeyLookup> {
    // Strongly consistent: a revoked key must stop working on the next request.
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: apiKeyKey(hash), ConsistentRead: true }),
    );
    const item = out.Item as (ApiKeyRecord & { revokedAt?: string }) | undefined;
    if (!item) return { kind: "unknown" };
    if (item.revokedAt) return { kind: "revoked" };
    return { kind: "active", record: { id: item.id, name: item.name, scopes: item.scopes } };
  }

  /**
   * Records the revocation of a key kept outside the table (the bootstrap admin key) under its
   * hash, where every request's lookup reads. A new secret value has another hash, so rotating the
   * secret brings an admin key back. False when that key is already revoked.
   */
  async revokeExternal(id: string, hash: string, revokedAt: string): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...apiKeyKey(hash), type: "api-key-revocation", id, revokedAt },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalFailure(error)) return false;
      throw error;
    }
  }

  /** Stores a new key under its hash, with an index entry (by id) for listing and revoking. */
  async create(key: ApiKeyView, hash: string): Promise<void> {
    await transactWrite(this.db, [
      {
        Put: {
          TableName: this.table,
          Item: { ...apiKeyKey(hash), type: "api-key", ...key },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: { ...apiKeyIndexKey(key.id), type: "api-key-index", hash, ...key },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
    ]);
  }

  async page(limit: number, cursor?: string): Promise<Page<ApiKeyView>> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": APIKEYS_PK },
        ExclusiveStartKey: decodeKeyCursor(cursor, APIKEYS_PK),
        Limit: limit,
      }),
    );
    const items = (out.Items ?? []).map((item) => ({
      id: item.id as string,
      name: item.name as string,
      scopes: item.scopes as string[],
      createdAt: item.createdAt as string,
    }));
    const nextCursor = encodeKeyCursor(out.LastEvaluatedKey);
    return { items, ...(nextCursor ? { nextCursor } : {}) };
  }

  /** Revokes a key at once by deleting it and its index entry. False when there is no such key. */
  async revoke(id: string): Promise<boolean> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: apiKeyIndexKey(id), ConsistentRead: true }),
    );
    const hash = out.Item?.hash as string | undefined;
    if (!hash) return false;
    await transactWrite(this.db, [
      { Delete: { TableName: this.table, Key: apiKeyKey(hash) } },
      { Delete: { TableName: this.table, Key: apiKeyIndexKey(id) } },
    ]);
    return true;
  }
}
