import { InvalidCursorError } from "../../adapters/dynamo/cursor.ts";
import { contentBytes, MAX_CONTENT_BYTES } from "../../domain/campaign.ts";
import { normalizeEmail } from "../../domain/email.ts";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import type { RouteHandler } from "../context.ts";
import { header, jsonBody } from "../http.ts";
import { ApiError } from "../http-errors.ts";
import { idSchema } from "../schemas.ts";

type Params = Record<string, string>;

/** The success response of a route that deletes. */
export const NO_CONTENT = { 204: { description: "deleted" } };

/** A page read whose cursor a client may have tampered with: a bad cursor is a 400, not a 500. */
export async function paged<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidCursorError) {
      throw new ValidationError("query.cursor: not a valid cursor", [
        { path: "query.cursor", message: "not a valid cursor" },
      ]);
    }
    throw error;
  }
}

/** An id from the path. An id that cannot exist is simply not found: nothing to say about its syntax. */
export function pathId(params: Params, name: string, what: string): string {
  const result = idSchema.safeParse(params[name] ?? "");
  if (!result.success) throw new NotFoundError(what);
  return result.data;
}

/** Optional JSON body: no body at all is `{}`; anything sent must be valid JSON. */
export function optionalBody(event: Parameters<RouteHandler>[0]): unknown {
  if (!event.body && !header(event, "content-type")) return {};
  return jsonBody(event);
}

/** An address from the path, normalised; 400 naming `path.email` when it is not one. */
export function pathAddress(params: Params): string {
  const check = normalizeEmail(params.email ?? "");
  if (!check.ok)
    throw new ValidationError(`path.email: ${check.error}`, [{ path: "path.email", message: check.error }]);
  return check.email;
}

/** 413 when subject, html and text together would not fit in a stored campaign or version. */
export function checkContentSize(content: {
  subject: string;
  html: string;
  text?: string | undefined;
}): void {
  const bytes = contentBytes(content);
  if (bytes <= MAX_CONTENT_BYTES) return;
  const message = `subject, html and text together must be at most ${MAX_CONTENT_BYTES / 1024} KB; these are ${Math.ceil(bytes / 1024)} KB`;
  throw new ApiError(413, "payload_too_large", message, [{ path: "body.html", message }]);
}
