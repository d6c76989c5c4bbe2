/**
 * The one page-cursor codec: a cursor is the base64url JSON of where the next page starts. Clients
 * treat it as opaque; the server checks it before use, because DynamoDB answers a start key from
 * another partition with a server error, and a forged cursor must be a 400, never a 500.
 */
/** A page of items and where the next one starts (absent on the last page). */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
  constructor() {
    super("cursor is not valid");
  }
}

/** The longest cursor accepted: a DynamoDB key is at most 2 KB + 1 KB, base64 grows by a third. */
const MAX_CURSOR_LENGTH = 4096;

export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

/**
 * Decodes a cursor and checks it with `accept`, which returns the position to use or undefined
 * when the cursor does not belong to the page being read.
 */
export function decodeCursor<T>(raw: string, accept: (value: Record<string, unknown>) => T | undefined): T {
  if (raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]*$/.test(raw)) throw new InvalidCursorError();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError();
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new InvalidCursorError();
  const position = accept(parsed as Record<string, unknown>);
  if (position === undefined) throw new InvalidCursorError();
  return position;
}

/** The cursor of a page of one partition: DynamoDB's `LastEvaluatedKey` (`pk`, `sk`). */
export function encodeKeyCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? encodeCursor({ pk: key.pk, sk: key.sk }) : undefined;
}

/** A key cursor, accepted only when it names `pk` and an `sk` starting with `skPrefix`. */
export function decodeKeyCursor(
  raw: string | undefined,
  pk: string,
  skPrefix = "",
): { pk: string; sk: string } | undefined {
  if (raw === undefined) return undefined;
  return decodeCursor(raw, (value) =>
    value.pk === pk &&
    typeof value.sk === "string" &&
    value.sk.startsWith(skPrefix) &&
    value.sk.length <= 1100
      ? { pk, sk: value.sk }
      : undefined,
  );
}
