import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { z } from "zod";
import { ValidationError } from "../domain/errors.ts";
import { ApiError, errorBody } from "./http-errors.ts";

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Largest JSON body accepted (an HTML part may be up to 512 KB; JSON escaping adds some). */
const MAX_BODY_BYTES = 1024 * 1024;
/**
 * Largest CSV body accepted: a synchronous Lambda invocation carries at most 6 MB, the event
 * envelope included. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
const MAX_CSV_BYTES = 5 * 1024 * 1024;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode: status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResult(error: ApiError): HttpResult {
  return json(error.status, errorBody(error));
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** Parses a JSON request body, answering 415 / 413 / 400 for what a client got wrong. */
export function jsonBody(event: HttpEvent): unknown {
  const contentType = header(event, "content-type") ?? "";
  if (!/^application\/json\b/i.test(contentType.trim())) {
    throw new ApiError(415, "unsupported_media_type", "content-type must be application/json");
  }
  const raw = event.body ?? "";
  const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) {
    throw new ApiError(413, "payload_too_large", `body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "invalid_json", "body is not valid JSON");
  }
}

/** The body of a `text/csv` request (RFC 4180), answering 415 / 413 for what a client got wrong. */
export function csvBody(event: HttpEvent): string {
  const contentType = header(event, "content-type") ?? "";
  if (!/^text\/csv\b/i.test(contentType.trim())) {
    throw new ApiError(415, "unsupported_media_type", "content-type must be text/csv");
  }
  const raw = event.body ?? "";
  const bytes = event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.length > MAX_CSV_BYTES) {
    throw new ApiError(413, "payload_too_large", `body must be at most ${MAX_CSV_BYTES} bytes`);
  }
  return bytes.toString("utf8").replace(/^\uFEFF/, "");
}

/** Validates `input` against a zod schema; on failure names every offending field. */
export function validate<T>(schema: z.ZodType<T>, input: unknown, where = "body"): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  const first = details[0];
  throw new ValidationError(first ? `${first.path}: ${first.message}` : `${where} is not valid`, details);
}
