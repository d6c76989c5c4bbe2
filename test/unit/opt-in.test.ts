import { describe, expect, it } from "vitest";
import type { Campaign } from "../../lambdas/domain/campaign.ts";
import {
  signConfirmationToken,
  signUnsubscribeToken,
  verifyConfirmationToken,
  verifyUnsubscribeToken,
} from "../../lambdas/domain/link-token.ts";
import { nextConfirmation } from "../../lambdas/domain/opt-in.ts";
import { unknownTags } from "../../lambdas/domain/render.ts";
import { composeEmail, unsubscribeLinks } from "../../lambdas/sender/compose.ts";

const SECRET = "0123456789abcdefghijklmnopqrstuvwxyz";
const claims = { listId: "list-1", email: "Ana@example.com", expiresAt: 1_900_000_000, version: 3 };

describe("confirmation tokens", () => {
  it("round-trip (list, address, expiry, version) and carry no readable address", () => {
    const token = signConfirmationToken(SECRET, claims);
    expect(verifyConfirmationToken(SECRET, token)).toEqual(claims);
    expect(Buffer.from(token, "base64url").toString("latin1")).not.toContain("Ana");
  });

  it("are refused as unsubscribe tokens and the other way round: the keys are derived apart", () => {
    const confirm = signConfirmationToken(SECRET, claims);
    const unsubscribe = signUnsubscribeToken(SECRET, {
      listId: "list-1",
      email: "Ana@example.com",
      campaignId: "3",
    });
    expect(verifyUnsubscribeToken(SECRET, confirm)).toBeUndefined();
    expect(verifyConfirmationToken(SECRET, unsubscribe)).toBeUndefined();
  });

  it("refuse any alteration and another secret", () => {
    const token = signConfirmationToken(SECRET, claims);
    for (let i = 0; i < token.length; i++) {
      const altered = `${token.slice(0, i)}${token[i] === "A" ? "B" : "A"}${token.slice(i + 1)}`;
      expect(verifyConfirmationToken(SECRET, altered), `position ${i}`).toBeUndefined();
    }
    expect(verifyConfirmationToken(`${SECRET}!`, token)).toBeUndefined();
  });
});

describe("a list's confirmation email", () => {
  it("starts from the defaults at version 1, and each change is one version up keeping the rest", () => {
    const first = nextConfirmation(undefined, { subject: "Confirm, please" });
    expect(first).toMatchObject({ version: 1, subject: "Confirm, please", expiresInHours: 168 });
    expect(first.html).toContain("{{confirmUrl}}");
    const second = nextConfirmation(first, { expiresInHours: 24 });
    expect(second).toEqual({ ...first, version: 2, expiresInHours: 24 });
  });
});

describe("a composed confirmation email", () => {
  const campaign: Campaign = {
    id: "confirm-1",
    purpose: "confirmation",
    listId: "list-1",
    recipients: ["Ana@example.com"],
    confirmation: { version: 3, expiresInHours: 2 },
    from: "news@example.com",
    subject: "Confirm",
    html: '<p>Hi {{attributes.name}}: <a href="{{confirmUrl}}">yes</a></p>',
    text: "Confirm: {{confirmUrl}}",
    status: "sending",
    createdAt: "",
    updatedAt: "",
  };
  const links = unsubscribeLinks(SECRET, "https://api.example.com");

  it("links to /c/{token} that expires expiresInHours after it is composed, and has no unsubscribe link", () => {
    const nowMs = 1_800_000_000_000;
    const email = composeEmail(
      campaign,
      { email: "Ana@example.com", attributes: { name: "Ana" } },
      links,
      nowMs,
    );
    const url = /href="([^"]+)"/.exec(email.html)?.[1] ?? "";
    expect(url.startsWith("https://api.example.com/c/")).toBe(true);
    expect(email.text).toBe(`Confirm: ${url}`);
    expect(email.html).toContain("Hi Ana");
    expect(verifyConfirmationToken(SECRET, url.slice(url.lastIndexOf("/") + 1))).toEqual({
      listId: "list-1",
      email: "Ana@example.com",
      expiresAt: nowMs / 1000 + 2 * 3600,
      version: 3,
    });
    expect(email.headers).toBeUndefined();
    expect(email.html).not.toContain("/u/");
  });

  it("is the only kind of email that knows {{confirmUrl}}", () => {
    expect(unknownTags("{{confirmUrl}}")).toEqual(["confirmUrl"]);
    expect(unknownTags("{{confirmUrl}}", ["confirmUrl"])).toEqual([]);
  });
});
