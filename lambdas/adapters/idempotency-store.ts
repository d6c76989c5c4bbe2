import { gunzipSync, gzipSync } from "node:zlib";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { isConditionalFailure } from "./dynamo/errors.ts";
import { idempotencyKey } from "./dynamo/keys.ts";

/** A response kept for replay. */
export interface StoredResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export type BeginResult =
  | { readonly kind: "started" }
  | { readonly kind: "replay"; readonly response: StoredResponse }
  | { readonly kind: "mismatch" }
  | { readonly kind: "in_progress" };

/** How long a key is remembered (the API promises 24 hours). */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** A claim older than this is considered abandoned (the API function times out after 29 s). */
const IN_PROGRESS_LEASE_SECONDS = 60;
/** DynamoDB items are at most 400 KB: bigger responses are kept without their largest fields. */
const MAX_STORED_BYTES = 300 * 1024;

/**
 * A key taken for a request now in progress, and the condition under which it may be taken: nobody
 * holds it, or its record expired (TTL deletion is lazy, up to days; MRSC tables have none), or the
 * same request's holder died mid-way (its lease ran out). Shared by the replica's records and the
 * cross-region claims (IdempotencyClaimStore).
 */
export function inProgress(requestHash: string, nowSeconds: number) {
  return {
    item: {
      requestHash,
      state: "in_progress",
      leaseUntil: nowSeconds + IN_PROGRESS_LEASE_SECONDS,
      expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
    },
    condition: {
      ConditionExpression:
        "attribute_not_exists(pk) OR #expiresAt < :now OR (#state = :in_progress AND #lease < :now AND #hash = :hash)",
      ExpressionAttributeNames: {
        "#state": "state",
        "#expiresAt": "expiresAt",
        "#lease": "leaseUntil",
        "#hash": "requestHash",
      },
      ExpressionAttributeValues: { ":now": nowSeconds, ":in_progress": "in_progress", ":hash": requestHash },
    },
  };
}

/**
 * Idempotency records in the audience table (`IDEMPOTENCY#<api key id>#<key>`), expiring by TTL.
 * The first request claims the key with a conditional write; a repeat with the same request hash
 * gets the stored response, a repeat with another hash is a conflict.
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 */
export class IdempotencyStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async begin(scope: string, key: string, requestHash: string, nowMs: number): Promise<BeginResult> {
    const taken = inProgress(requestHash, Math.floor(nowMs / 1000));
    const itemKey = idempotencyKey(scope, key);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...itemKey,
            type: "idempotency",
            ...taken.item,
          },
          ...taken.condition,
        }),
      );
      return { kind: "started" };
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: itemKey, ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item) return this.begin(scope, key, requestHash, nowMs);
    if (item.requestHash !== requestHash) return { kind: "mismatch" };
    if (item.state !== "done") return { kind: "in_progress" };
    return { kind: "replay", response: decode(item.response as Uint8Array) };
  }

  /**
   * The response kept under a key another region took (IdempotencyClaimStore), once its record has
   * replicated here; undefined until then.
   */
  async replay(scope: string, key: string, requestHash: string): Promise<StoredResponse | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: idempotencyKey(scope, key), ConsistentRead: true }),
    );
    const item = out.Item;
    if (item?.state !== "done" || item.requestHash !== requestHash) return undefined;
    return decode(item.response as Uint8Array);
  }

  async complete(scope: string, key: string, response: StoredResponse): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: idempotencyKey(scope, key),
        UpdateExpression: "SET #state = :done, #response = :response REMOVE #lease",
        ExpressionAttributeNames: { "#state": "state", "#response": "response", "#lease": "leaseUntil" },
        ExpressionAttributeValues: { ":done": "done", ":response": encode(response) },
      }),
    );
  }

  /** Forgets a claim whose request was refused, so the request leaves no trace. */
  async abandon(scope: string, key: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: idempotencyKey(scope, key) }));
  }
}

function encode(response: StoredResponse): Uint8Array {
  let packed = gzipSync(JSON.stringify(response));
  if (packed.length > MAX_STORED_BYTES) {
    // Keep the status and the identifiers; drop long strings (an HTML part) that do not fit.
    const body = JSON.parse(response.body) as Record<string, unknown>;
    const slim = Object.fromEntries(
      Object.entries(body).filter(([, value]) => typeof value !== "string" || value.length <= 1024),
    );
    packed = gzipSync(
      JSON.stringify({
        ...response,
        headers: { ...response.headers, "idempotent-replay": "truncated" },
        body: JSON.stringify(slim),
      }),
    );
  }
  return packed;
}

function decode(raw: Uint8Array): StoredResponse {
  return JSON.parse(gunzipSync(raw).toString("utf8")) as StoredResponse;
}
