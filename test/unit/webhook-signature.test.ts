import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signatureOf, signWebhook, verifyWebhookSignature } from "../../lambdas/domain/webhook-signature.ts";
import { verifyWebhookSignature as fromSdk } from "../../sdk/index.ts";

const BODY = JSON.stringify({
  id: "evt_1",
  type: "recipient.sent",
  createdAt: "2026-12-01T10:00:00Z",
  data: {},
});
const NOW = 1_800_000_000;

describe("webhook signatures", () => {
  it("are the documented HMAC-SHA256 of <t>.<raw body>, one v1 per active secret", () => {
    const header = signWebhook(["old", "new"], BODY, NOW);
    expect(header).toBe(`t=${NOW},v1=${signatureOf("old", NOW, BODY)},v1=${signatureOf("new", NOW, BODY)}`);
    // Computed independently of the module, as a receiver in another language would.
    expect(signatureOf("new", NOW, BODY)).toBe(
      createHmac("sha256", "new").update(`${NOW}.${BODY}`).digest("hex"),
    );
  });

  it("verify with either secret during a rotation, and the SDK exports the same check", () => {
    const header = signWebhook(["old", "new"], BODY, NOW);
    expect(verifyWebhookSignature(header, BODY, ["new"], NOW)).toBe(true);
    expect(verifyWebhookSignature(header, BODY, ["old"], NOW)).toBe(true);
    expect(fromSdk).toBe(verifyWebhookSignature);
  });

  it("refuse another secret, an altered body, an old or future time, and a malformed header", () => {
    const header = signWebhook(["s3cret"], BODY, NOW);
    expect(verifyWebhookSignature(header, BODY, ["other"], NOW)).toBe(false);
    expect(verifyWebhookSignature(header, BODY.replace("sent", "failed"), ["s3cret"], NOW)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, ["s3cret"], NOW + 301)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, ["s3cret"], NOW - 301)).toBe(false);
    expect(verifyWebhookSignature(header, BODY, ["s3cret"], NOW + 300)).toBe(true);
    for (const bad of [undefined, "", "v1=abc", `t=${NOW}`, `t=x,v1=${signatureOf("s3cret", NOW, BODY)}`])
      expect(verifyWebhookSignature(bad, BODY, ["s3cret"], NOW), String(bad)).toBe(false);
  });
});
