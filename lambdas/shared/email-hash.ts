import { createHash } from "node:crypto";

/**
 * What logs carry instead of an address: the first 16 hex digits of its SHA-256. Enough to match a
 * log line to a known address (hash it and compare), never enough to read the address back.
 */
export function emailHash(email: string): string {
  return createHash("sha256").update(email).digest("hex").slice(0, 16);
}
