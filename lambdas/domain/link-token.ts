import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/**
 * The tokens of mailed links: unsubscribe (and the preference center) and double opt-in
 * confirmation. Each kind has keys of its own, derived from the unsubscribe secret.
 *
 * Unsubscribe tokens for the `List-Unsubscribe` URL (RFC 2369, RFC 8058 §3.1: the URI must identify
 * the recipient and list without the receiving mail server having to keep any state, and must be
 * hard to forge).
 *
 * A token names (list, subscriber, campaign) and is authenticated with HMAC-SHA-256 under a key
 * derived from the unsubscribe secret. The claims are encrypted (AES-256-CTR with a synthetic IV,
 * encrypt-then-MAC) so the URL carries no readable email address: a link that leaks (forwarded mail,
 * a proxy log) does not disclose who it belongs to. The IV is derived from the claims, so the same
 * recipient always gets the same token, and nothing random goes into a rendered email.
 *
 *   token = base64url( version(1) ‖ iv(16) ‖ ciphertext ‖ tag(16) )
 *   tag   = HMAC-SHA-256(macKey, version ‖ iv ‖ ciphertext)[0..16]
 */
export interface UnsubscribeClaims {
  readonly listId: string;
  readonly email: string;
  /** The campaign the link was mailed in; counts the unsubscribe on it. */
  readonly campaignId?: string;
}

const VERSION = 1;
const IV_BYTES = 16;
const TAG_BYTES = 16;
/** Longest token accepted: far above any real one, small enough to refuse junk cheaply. */
const MAX_TOKEN_LENGTH = 1024;

interface Keys {
  readonly enc: Buffer;
  readonly mac: Buffer;
  readonly iv: Buffer;
}

const keyCache = new Map<string, Keys>();

/**
 * What a token is for: its keys are derived apart (HKDF salt), so a token made for one purpose is
 * refused as any other.
 */
type Purpose = "unsubscribe" | "confirm";

/** Independent keys for encryption, authentication and IV derivation (RFC 5869 HKDF). */
function keysFor(secret: string, purpose: Purpose): Keys {
  const cacheKey = `${purpose}\u0000${secret}`;
  const cached = keyCache.get(cacheKey);
  if (cached) return cached;
  if (secret.length < 16) throw new Error("the unsubscribe secret must be at least 16 characters");
  const derive = (info: string) => Buffer.from(hkdfSync("sha256", secret, `steadfast-${purpose}`, info, 32));
  const keys = { enc: derive("enc"), mac: derive("mac"), iv: derive("iv") };
  keyCache.set(cacheKey, keys);
  return keys;
}

/** Seals string parts into a token: encrypted, authenticated, the same parts always the same token. */
function seal(secret: string, purpose: Purpose, parts: readonly string[]): string {
  const keys = keysFor(secret, purpose);
  const plaintext = Buffer.from(JSON.stringify(parts), "utf8");
  const iv = createHmac("sha256", keys.iv).update(plaintext).digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv("aes-256-ctr", keys.enc, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const head = Buffer.concat([Buffer.from([VERSION]), iv, ciphertext]);
  const tag = createHmac("sha256", keys.mac).update(head).digest().subarray(0, TAG_BYTES);
  return Buffer.concat([head, tag]).toString("base64url");
}

/** The `count` string parts of a genuine token; undefined for anything forged, altered or malformed. */
function open(secret: string, purpose: Purpose, token: string, count: number): string[] | undefined {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token))
    return undefined;
  const raw = Buffer.from(token, "base64url");
  // base64url decoding ignores trailing bits: re-encoding catches an altered last character.
  if (raw.toString("base64url") !== token) return undefined;
  if (raw.length < 1 + IV_BYTES + 1 + TAG_BYTES || raw[0] !== VERSION) return undefined;
  const keys = keysFor(secret, purpose);
  const head = raw.subarray(0, raw.length - TAG_BYTES);
  const tag = raw.subarray(raw.length - TAG_BYTES);
  const expected = createHmac("sha256", keys.mac).update(head).digest().subarray(0, TAG_BYTES);
  if (!timingSafeEqual(tag, expected)) return undefined;
  const iv = head.subarray(1, 1 + IV_BYTES);
  const decipher = createDecipheriv("aes-256-ctr", keys.enc, iv);
  const plaintext = Buffer.concat([decipher.update(head.subarray(1 + IV_BYTES)), decipher.final()]);
  try {
    const parsed: unknown = JSON.parse(plaintext.toString("utf8"));
    if (
      !Array.isArray(parsed) ||
      parsed.length !== count ||
      !parsed.every((part) => typeof part === "string")
    )
      return undefined;
    return parsed;
  } catch {
    return undefined;
  }
}

export function signUnsubscribeToken(secret: string, claims: UnsubscribeClaims): string {
  return seal(secret, "unsubscribe", [claims.listId, claims.email, claims.campaignId ?? ""]);
}

/** The claims of a genuine token; undefined for anything forged, altered, truncated or malformed. */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeClaims | undefined {
  const parts = open(secret, "unsubscribe", token, 3);
  if (!parts?.[0] || !parts[1]) return undefined;
  const [listId, email, campaignId] = parts as [string, string, string];
  return { listId, email, ...(campaignId ? { campaignId } : {}) };
}

/** What a double opt-in confirmation link names: the list, the address, its expiry, the email's version. */
export interface ConfirmationClaims {
  readonly listId: string;
  readonly email: string;
  /** Epoch seconds after which the link is refused. */
  readonly expiresAt: number;
  /** The version of the list's confirmation email the link was mailed in. */
  readonly version: number;
}

export function signConfirmationToken(secret: string, claims: ConfirmationClaims): string {
  return seal(secret, "confirm", [
    claims.listId,
    claims.email,
    String(claims.expiresAt),
    String(claims.version),
  ]);
}

/** The claims of a genuine confirmation token (expired or not); undefined for anything forged. */
export function verifyConfirmationToken(secret: string, token: string): ConfirmationClaims | undefined {
  const parts = open(secret, "confirm", token, 4);
  if (!parts) return undefined;
  const [listId, email, expiresAt, version] = parts as [string, string, string, string];
  if (!listId || !email || !/^\d+$/.test(expiresAt) || !/^\d+$/.test(version)) return undefined;
  return { listId, email, expiresAt: Number(expiresAt), version: Number(version) };
}

/** `https://api.example/u/<token>`; `baseUrl` may or may not end with a slash. */
export function unsubscribeUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/u/${token}`;
}

/** `https://api.example/c/<token>`, a double opt-in confirmation link. */
export function confirmationUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/c/${token}`;
}
