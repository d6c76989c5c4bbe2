import { createHash } from "node:crypto";
import type { IdempotencyStore } from "../adapters/idempotency-store.ts";
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

/**
 * Runs a POST at most once per (API key, Idempotency-Key) for 24 hours: a repeat with the same
 * method, path and body gets the first response; another request under the same key is a 409.
 * Only successful responses are kept: a refused request leaves no record, so a corrected retry works.
 * `replayable` picks what of the response may be stored (a secret never is: the record lives 24 h,
 * in every replica and in the table's backups).
 */
export async function idempotent(
  store: IdempotencyStore,
  scope: string,
  key: string,
  event: HttpEvent,
  run: () => Promise<HttpResult>,
  replayable: (result: HttpResult) => HttpResult = (result) => result,
): Promise<HttpResult> {
  const body = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64")
    : Buffer.from(event.body ?? "", "utf8");
  const requestHash = createHash("sha256")
    .update(
      `${event.requestContext?.http?.method} ${event.rawPath}\n${header(event, "content-type") ?? ""}\n`,
    )
    .update(body)
    .digest("hex");
  const begun = await store.begin(scope, key, requestHash, Date.now());
  if (begun.kind === "mismatch") {
    throw new ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used with another request");
  }
  if (begun.kind === "in_progress") {
    throw new ConflictError("a request with this Idempotency-Key is still in progress; retry shortly");
  }
  if (begun.kind === "replay") {
    return { ...begun.response, headers: { ...begun.response.headers, "idempotent-replayed": "true" } };
  }
  let result: HttpResult;
  try {
    result = await run();
  } catch (error) {
    await store.abandon(scope, key);
    throw error;
  }
  const status = result.statusCode ?? 200;
  if (status >= 200 && status < 300) {
    const kept = replayable(result);
    await store.complete(scope, key, {
      statusCode: kept.statusCode ?? status,
      headers: Object.fromEntries(Object.entries(kept.headers ?? {}).map(([k, v]) => [k, String(v)])),
      body: typeof kept.body === "string" ? kept.body : "",
    });
  } else {
    await store.abandon(scope, key);
  }
  return result;
}
