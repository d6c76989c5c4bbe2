import { createCipheriv, createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/**
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

/** Independent keys for encryption, authentication and IV derivation (RFC 5869 HKDF). */
function keysFor(secret: string): Keys {
  const cached = keyCache.get(secret);
  if (cached) return cached;
  if (secret.length < 16) throw new Error("the unsubscribe secret must be at least 16 characters");
  const derive = (info: string) => Buffer.from(hkdfSync("sha256", secret, "steadfast-unsubscribe", info, 32));
  const keys = { enc: derive("enc"), mac: derive("mac"), iv: derive("iv") };
  keyCache.set(secret, keys);
  return keys;
}

export function signUnsubscribeToken(secret: string, claims: UnsubscribeClaims): string {
  const keys = keysFor(secret);
  const plaintext = Buffer.from(
    JSON.stringify([claims.listId, claims.email, claims.campaignId ?? ""]),
    "utf8",
  );
  const iv = createHmac("sha256", keys.iv).update(plaintext).digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv("aes-256-ctr", keys.enc, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const head = Buffer.concat([Buffer.from([VERSION]), iv, ciphertext]);
  const tag = createHmac("sha256", keys.mac).update(head).digest().subarray(0, TAG_BYTES);
  return Buffer.concat([head, tag]).toString("base64url");
}

/** The claims of a genuine token; undefined for anything forged, altered, truncated or malformed. */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeClaims | undefined {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token))
    return undefined;
  const raw = Buffer.from(token, "base64url");
  // base64url decoding ignores trailing bits: re-encoding catches an altered last character.
  if (raw.toString("base64url") !== token) return undefined;
  if (raw.length < 1 + IV_BYTES + 1 + TAG_BYTES || raw[0] !== VERSION) return undefined;
  const keys = keysFor(secret);
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
      parsed.length !== 3 ||
      !parsed.every((part) => typeof part === "string") ||
      !parsed[0] ||
      !parsed[1]
    )
      return undefined;
    const [listId, email, campaignId] = parsed as [string, string, string];
    return { listId, email, ...(campaignId ? { campaignId } : {}) };
  } catch {
    return undefined;
  }
}

/** `https://api.example/u/<token>`; `baseUrl` may or may not end with a slash. */
export function unsubscribeUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/u/${token}`;
}
