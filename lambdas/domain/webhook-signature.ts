import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The webhook signature, one home for both sides: `Steadfast-Signature: t=<unix seconds>,v1=<hex>`
 * where `<hex>` is the HMAC-SHA256 of `<t>.<raw body>` keyed by the endpoint's secret, with one
 * `v1=` per active secret while a secret is being rotated.
 */
export const SIGNATURE_HEADER = "Steadfast-Signature";

/** How far a signature's time may be from the receiver's clock: older ones are replays. */
const SIGNATURE_TOLERANCE_SECONDS = 300;

export function signatureOf(secret: string, timestamp: number, rawBody: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex");
}

/** The header for a body signed now with each active secret. */
export function signWebhook(secrets: readonly string[], rawBody: string, nowSeconds: number): string {
  return [
    `t=${nowSeconds}`,
    ...secrets.map((secret) => `v1=${signatureOf(secret, nowSeconds, rawBody)}`),
  ].join(",");
}

/**
 * Whether a request came from Steadfast: one of its `v1` signatures matches one of `secrets` (the
 * receiver's current and previous secret during a rotation), over the raw body exactly as
 * received, and its time is within `toleranceSeconds` of `nowSeconds`. Compared in constant time.
 */
export function verifyWebhookSignature(
  header: string | undefined,
  rawBody: string,
  secrets: readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  if (!header) return false;
  const parts = header.split(",").map((part) => part.trim().split("="));
  const t = Number(parts.find(([key]) => key === "t")?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const given = parts.filter(([key, value]) => key === "v1" && value && /^[0-9a-f]{64}$/.test(value));
  return secrets.some((secret) => {
    const expected = Buffer.from(signatureOf(secret, t, rawBody), "hex");
    return given.some(([, value]) => timingSafeEqual(expected, Buffer.from(value as string, "hex")));
  });
}
