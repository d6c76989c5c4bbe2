import { describe, expect, it } from "vitest";
import {
  createApiKeySchema,
  createCampaignSchema,
  patchCampaignSchema,
  patchSubscriberSchema,
  subscriberSchema,
  subscribersQuerySchema,
} from "../../lambdas/api/schemas.ts";

const campaign = { listId: "l1", subject: 'Hi {{attributes.firstName | "there"}}', html: "<p>{{email}}</p>" };

describe("request schemas", () => {
  it("normalizes emails and refuses CR/LF, over-long addresses and unknown fields", () => {
    expect(subscriberSchema.parse({ email: "  Ana@Example.COM " }).email).toBe("Ana@example.com");
    expect(subscriberSchema.safeParse({ email: "a@example.com\r\nBcc: x@example.com" }).success).toBe(false);
    expect(subscriberSchema.safeParse({ email: `${"a".repeat(64)}@${"b".repeat(190)}.com` }).success).toBe(
      false,
    );
    expect(subscriberSchema.safeParse({ email: "a@example.com", extra: 1 }).success).toBe(false);
  });

  it("keeps attributes flat and at most 4 KB", () => {
    expect(
      subscriberSchema.safeParse({ email: "a@example.com", attributes: { n: 1, b: true, s: "x" } }).success,
    ).toBe(true);
    expect(
      subscriberSchema.safeParse({ email: "a@example.com", attributes: { nested: { x: 1 } } }).success,
    ).toBe(false);
    expect(
      subscriberSchema.safeParse({ email: "a@example.com", attributes: { big: "x".repeat(4100) } }).success,
    ).toBe(false);
  });

  it("names the unknown merge tag and refuses header injection in subject and reply-to", () => {
    const unknown = createCampaignSchema.safeParse({ ...campaign, html: "<p>{{ first_name }}</p>" });
    expect(unknown.error?.issues[0]?.message).toBe("unknown merge tag {{first_name}}");
    expect(createCampaignSchema.safeParse({ ...campaign, subject: "Hi\r\nBcc: x" }).success).toBe(false);
    expect(
      createCampaignSchema.safeParse({ ...campaign, replyTo: "a@example.com\nBcc: b@example.com" }).success,
    ).toBe(false);
    expect(createCampaignSchema.safeParse({ ...campaign, html: "x".repeat(1024 * 1024 + 1) }).success).toBe(
      false,
    );
  });

  it("normalizes scheduledAt to UTC and requires a time zone", () => {
    const parsed = createCampaignSchema.parse({ ...campaign, scheduledAt: "2030-01-02T03:04:05+02:00" });
    expect(parsed.scheduledAt).toBe("2030-01-02T01:04:05.000Z");
    expect(createCampaignSchema.safeParse({ ...campaign, scheduledAt: "2030-01-02T03:04:05" }).success).toBe(
      false,
    );
    expect(createCampaignSchema.safeParse({ ...campaign, scheduledAt: "tomorrow" }).success).toBe(false);
  });

  it("requires something to change in a PATCH, and lets null clear optional campaign fields", () => {
    expect(patchCampaignSchema.safeParse({}).success).toBe(false);
    expect(patchCampaignSchema.parse({ text: null, replyTo: null })).toEqual({ text: null, replyTo: null });
    expect(patchCampaignSchema.safeParse({ status: "sent" }).success).toBe(false);
    expect(patchSubscriberSchema.safeParse({}).success).toBe(false);
    expect(patchSubscriberSchema.safeParse({ status: "complained" }).success).toBe(false);
  });

  it("caps page sizes at 1,000 and refuses unknown query parameters", () => {
    expect(subscribersQuerySchema.parse({})).toEqual({ limit: 100 });
    expect(subscribersQuerySchema.safeParse({ limit: "1001" }).success).toBe(false);
    expect(subscribersQuerySchema.safeParse({ limit: "0" }).success).toBe(false);
    expect(subscribersQuerySchema.safeParse({ sort: "email" }).success).toBe(false);
  });

  it("accepts only known, distinct API key scopes", () => {
    expect(createApiKeySchema.safeParse({ name: "ci", scopes: ["read", "write"] }).success).toBe(true);
    expect(createApiKeySchema.safeParse({ name: "ci", scopes: [] }).success).toBe(false);
    expect(createApiKeySchema.safeParse({ name: "ci", scopes: ["read", "read"] }).success).toBe(false);
    expect(createApiKeySchema.safeParse({ name: "ci", scopes: ["root"] }).success).toBe(false);
  });
});
