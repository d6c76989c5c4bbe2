import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** API keys are 32 random bytes (256 bits), shown once and stored only as a SHA-256 hash. */
export function generateApiKey(): string {
  return `sf_${randomBytes(32).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time comparison of two hex hashes of equal length. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
