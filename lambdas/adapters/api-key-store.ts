import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { transactWrite } from "./dynamo/batch.ts";
import { decodeKeyCursor, encodeKeyCursor } from "./dynamo/cursor.ts";
import { APIKEYS_PK, apiKeyIndexKey, apiKeyKey } from "./dynamo/keys.ts";
import type { Page } from "./list-store.ts";

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
}

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

  async get(hash: string): Promise<ApiKeyRecord | undefined> {
    // Strongly consistent: a revoked key must stop working on the next request.
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: apiKeyKey(hash), ConsistentRead: true }),
    );
    const item = out.Item as (ApiKeyRecord & { revokedAt?: string }) | undefined;
    if (!item || item.revokedAt) return undefined;
    return { id: item.id, name: item.name, scopes: item.scopes };
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
