import { InvalidCursorError } from "../adapters/ledger-store.ts";
import { ApiError, ValidationError } from "../domain/errors.ts";
import { idSchema } from "./schemas.ts";

type Params = Record<string, string>;

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
  if (!result.success) throw new ApiError(404, "not_found", `${what} not found`);
  return result.data;
}
