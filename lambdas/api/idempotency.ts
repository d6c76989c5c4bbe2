import { createHash } from "node:crypto";
import type { IdempotencyClaimStore } from "../adapters/idempotency-claim-store.ts";
import type { IdempotencyStore, StoredResponse } from "../adapters/idempotency-store.ts";
import { ConflictError, ValidationError } from "../domain/errors.ts";
import { header, type HttpEvent, type HttpResult } from "./http.ts";
import { ApiError } from "./http-errors.ts";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key header, if any; 400 when it is not 1 to 255 visible ASCII characters. */
export function idempotencyKey(event: HttpEvent): string | undefined {
  const key = header(event, "idempotency-key");
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    const message = "must be 1 to 255 visible ASCII characters";
    throw new ValidationError(`header.idempotency-key: ${message}`, [
      { path: "header.idempotency-key", message },
    ]);
  }
  return key;
}

/** Where an API function keeps Idempotency-Keys: its replica's records, and the cross-region claims if any. */
export interface IdempotencyStores {
  readonly records: IdempotencyStore;
  /** Absent without a coordination table: a key then holds within a region only. */
  readonly claims?: IdempotencyClaimStore;
}

/**
 * Runs a POST at most once per (API key, Idempotency-Key) for 24 hours: a repeat with the same
 * method, path and body gets the first response; another request under the same key is a 409.
 * Only successful responses are kept: a refused request leaves no record, so a corrected retry works.
 * `replayable` picks what of the response may be stored (a secret never is: the record lives 24 h,
 * in every replica and in the table's backups).
 *
 * With a coordination table the key is first claimed there for this region, so a retry through
 * another region is not run again: it gets the first response once that has replicated to its
 * replica, and a 409 "in progress" until then.
 */
export async function idempotent(
  stores: IdempotencyStores,
  scope: string,
  key: string,
  event: HttpEvent,
  run: () => Promise<HttpResult>,
  replayable: (result: HttpResult) => HttpResult = (result) => result,
): Promise<HttpResult> {
  const { records, claims } = stores;
  const requestHash = hashRequest(event);
  const claimed = claims
    ? await claims.claim(scope, key, requestHash, Date.now())
    : { kind: "here" as const };
  if (claimed.kind === "mismatch") throw reused();
  if (claimed.kind === "elsewhere") {
    const response = claimed.done ? await records.replay(scope, key, requestHash) : undefined;
    if (response) return replayed(response);
    throw new ConflictError(
      `a request with this Idempotency-Key ${claimed.done ? "was answered" : "is in progress"} in ${claimed.region}; retry shortly`,
    );
  }
  const begun = await records.begin(scope, key, requestHash, Date.now());
  if (begun.kind === "mismatch") throw reused();
  if (begun.kind === "in_progress") {
    throw new ConflictError("a request with this Idempotency-Key is still in progress; retry shortly");
  }
  if (begun.kind === "replay") return replayed(begun.response);
  const abandon = async () => {
    await records.abandon(scope, key);
    await claims?.abandon(scope, key);
  };
  let result: HttpResult;
  try {
    result = await run();
  } catch (error) {
    await abandon();
    throw error;
  }
  const status = result.statusCode ?? 200;
  if (status >= 200 && status < 300) {
    const kept = replayable(result);
    await records.complete(scope, key, {
      statusCode: kept.statusCode ?? status,
      headers: Object.fromEntries(Object.entries(kept.headers ?? {}).map(([k, v]) => [k, String(v)])),
      body: typeof kept.body === "string" ? kept.body : "",
    });
    await claims?.complete(scope, key);
  } else {
    await abandon();
  }
  return result;
}

function hashRequest(event: HttpEvent): string {
  const body = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64")
    : Buffer.from(event.body ?? "", "utf8");
  return createHash("sha256")
    .update(
      `${event.requestContext?.http?.method} ${event.rawPath}\n${header(event, "content-type") ?? ""}\n`,
    )
    .update(body)
    .digest("hex");
}

const reused = () =>
  new ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used with another request");

const replayed = (response: StoredResponse): HttpResult => ({
  ...response,
  headers: { ...response.headers, "idempotent-replayed": "true" },
});
