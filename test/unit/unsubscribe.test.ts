import { describe, expect, it } from "vitest";
import type { Campaign } from "../../lambdas/domain/campaign.ts";
import { unknownTags } from "../../lambdas/domain/render.ts";
import { signUnsubscribeToken, verifyUnsubscribeToken } from "../../lambdas/domain/link-token.ts";
import { composeEmail, unsubscribeLinks } from "../../lambdas/sender/compose.ts";

const SECRET = "0123456789abcdefghijklmnopqrstuvwxyz";
const claims = { listId: "list-1", email: "Ana.Maria@example.com", campaignId: "camp-9" };

describe("unsubscribe tokens", () => {
  it("round-trips (list, subscriber, campaign) and is the same for the same recipient", () => {
    const token = signUnsubscribeToken(SECRET, claims);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(verifyUnsubscribeToken(SECRET, token)).toEqual(claims);
    expect(signUnsubscribeToken(SECRET, claims)).toBe(token);
    expect(signUnsubscribeToken(SECRET, { ...claims, email: "bob@example.com" })).not.toBe(token);
    const noCampaign = signUnsubscribeToken(SECRET, { listId: "l", email: "x@example.com" });
    expect(verifyUnsubscribeToken(SECRET, noCampaign)).toEqual({ listId: "l", email: "x@example.com" });
  });

  it("carries no readable email address", () => {
    const token = signUnsubscribeToken(SECRET, claims);
    for (const view of [token, Buffer.from(token, "base64url").toString("latin1")]) {
      expect(view.toLowerCase()).not.toContain("ana");
      expect(view).not.toContain("example");
      expect(view).not.toContain("list-1");
    }
  });

  it("refuses every single-character alteration, truncation and extension", () => {
    const token = signUnsubscribeToken(SECRET, claims);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < token.length; i++) {
      const c = token[i] as string;
      const other = alphabet[(alphabet.indexOf(c) + 17) % alphabet.length] as string;
      const altered = `${token.slice(0, i)}${other}${token.slice(i + 1)}`;
      expect(verifyUnsubscribeToken(SECRET, altered), `position ${i}`).toBeUndefined();
    }
    for (let cut = 1; cut < token.length; cut += 7)
      expect(verifyUnsubscribeToken(SECRET, token.slice(0, -cut))).toBeUndefined();
    expect(verifyUnsubscribeToken(SECRET, `${token}A`)).toBeUndefined();
  });

  it("refuses tokens under another secret, junk and oversized input", () => {
    const token = signUnsubscribeToken(SECRET, claims);
    expect(verifyUnsubscribeToken(`${SECRET}-other`, token)).toBeUndefined();
    for (const junk of ["", "a", "not a token", "../etc/passwd", "%00", "A".repeat(2000)])
      expect(verifyUnsubscribeToken(SECRET, junk), junk.slice(0, 20)).toBeUndefined();
    // A plain base64 of the claims (what a naive forger would try).
    const naive = Buffer.from(JSON.stringify(["list-1", "Ana.Maria@example.com", "camp-9"])).toString(
      "base64url",
    );
    expect(verifyUnsubscribeToken(SECRET, naive)).toBeUndefined();
  });

  it("needs a secret of some length", () => {
    expect(() => signUnsubscribeToken("short", claims)).toThrow(/at least 16/);
  });
});

describe("composed emails (RFC 8058)", () => {
  const campaign: Campaign = {
    id: "camp-9",
    listId: "list-1",
    from: "news@example.com",
    subject: "Hi",
    html: "<html><body><p>Hello {{email}}</p></body></html>",
    status: "sending",
    createdAt: "",
    updatedAt: "",
  };
  const links = unsubscribeLinks(SECRET, "https://api.example.com/");
  const recipient = { email: "Ana.Maria@example.com", attributes: {} };

  it("adds exactly one HTTPS List-Unsubscribe URL and List-Unsubscribe-Post", () => {
    const email = composeEmail(campaign, recipient, links);
    const token = signUnsubscribeToken(SECRET, claims);
    const url = `https://api.example.com/u/${token}`;
    expect(email.headers).toEqual([
      { name: "List-Unsubscribe", value: `<${url}>` },
      { name: "List-Unsubscribe-Post", value: "List-Unsubscribe=One-Click" },
    ]);
    // A visible link, inside the body, in both parts.
    expect(email.html).toContain(`<a href="${url}">Unsubscribe</a>`);
    expect(email.html.indexOf(url)).toBeLessThan(email.html.indexOf("</body>"));
    expect(email.text).toContain(url);
  });

  it("renders {{unsubscribeUrl}} where the template puts it, without adding a second link", () => {
    const withTag = {
      ...campaign,
      html: '<p>Bye: <a href="{{unsubscribeUrl}}">leave</a></p>',
      text: "Leave: {{unsubscribeUrl}}",
    };
    const email = composeEmail(withTag, recipient, links);
    const url = email.headers?.[0]?.value.slice(1, -1) as string;
    expect(email.html).toBe(`<p>Bye: <a href="${url}">leave</a></p>`);
    expect(email.text).toBe(`Leave: ${url}`);
  });

  it("registers the tag with the renderer and refuses a base URL that could inject headers", () => {
    expect(unknownTags("{{unsubscribeUrl}} {{ unsubscribeUrl }} {{unsubscribe}}")).toEqual(["unsubscribe"]);
    expect(() => unsubscribeLinks(SECRET, "https://a.example\r\nBcc: x@example.com")).toThrow();
  });

  it("adds nothing when no links are configured (delivery unit tests)", () => {
    const email = composeEmail(campaign, recipient, undefined);
    expect(email.headers).toBeUndefined();
    expect(email.html).toBe("<html><body><p>Hello Ana.Maria@example.com</p></body></html>");
  });
});
