import { createHash } from "node:crypto";

/**
 * Email address normalisation and validation. The local part is kept as given (RFC 5321 §2.4 makes it
 * case-sensitive); the domain is lower-cased. The syntax check is deliberately conservative: the
 * address must be something SES accepts as a plain `local@domain` destination.
 */
const MAX_LENGTH = 254; // RFC 5321 §4.5.3.1.3 path limit minus the angle brackets
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export type EmailCheck = { ok: true; email: string } | { ok: false; error: string };

export function normalizeEmail(input: unknown): EmailCheck {
  if (typeof input !== "string") return { ok: false, error: "email must be a string" };
  if (/[\r\n]/.test(input)) return { ok: false, error: "email must not contain CR or LF" };
  const trimmed = input.trim();
  if (trimmed.length === 0) return { ok: false, error: "email is required" };
  if (trimmed.length > MAX_LENGTH)
    return { ok: false, error: `email is longer than ${MAX_LENGTH} characters` };
  const at = trimmed.lastIndexOf("@");
  if (at <= 0 || at === trimmed.length - 1) return { ok: false, error: "email must look like local@domain" };
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1).toLowerCase();
  if (local.length > 64 || !LOCAL_PART.test(local))
    return { ok: false, error: "email has an invalid local part" };
  if (!DOMAIN.test(domain)) return { ok: false, error: "email has an invalid domain" };
  return { ok: true, email: `${local}@${domain}` };
}

/** The suppression reason of an erased person: their address must be skipped and left unrecorded. */
export const ERASED = "erased";

/**
 * What an erased person leaves behind: the SHA-256 of their normalised address, `sha256:<hex>`.
 * Enough to recognise the address if it comes back (so it is never mailed again), not to read it.
 */
export function addressDigest(normalizedEmail: string): string {
  return `sha256:${createHash("sha256").update(normalizedEmail, "utf8").digest("hex")}`;
}
