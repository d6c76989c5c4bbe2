import { InvalidCursorError } from "./dynamo/cursor.ts";

/**
 * Opaque page cursors: the base64url JSON of a DynamoDB `LastEvaluatedKey`. A cursor is checked to
 * name the partition being read, since DynamoDB answers a foreign start key with a server error.
 */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  if (!key) return undefined;
  return Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk }), "utf8").toString("base64url");
}

export function decodeCursor(
  raw: string | undefined,
  pk: string,
  skPrefix = "",
): { pk: string; sk: string } | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as {
      pk?: unknown;
      sk?: unknown;
    };
    if (
      parsed.pk === pk &&
      typeof parsed.sk === "string" &&
      parsed.sk.startsWith(skPrefix) &&
      parsed.sk.length <= 1100
    )
      return { pk, sk: parsed.sk };
  } catch {
    // fall through
  }
  throw new InvalidCursorError("cursor is not valid");
}
