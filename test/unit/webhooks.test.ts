import { describe, expect, it } from "vitest";
import type { Webhook, WebhookDelivery } from "../../lambdas/adapters/webhook-store.ts";
import type { WebhookEvent, WebhookMessage } from "../../lambdas/contracts/webhook-events.ts";
import {
  DISABLE_AFTER_MS,
  nextRetrySeconds,
  RETRY_FOR_MS,
  webhookUrlProblem,
} from "../../lambdas/domain/webhook-delivery.ts";
import { preferenceEvents, recipientEvent, webhookEventId } from "../../lambdas/domain/webhook-event.ts";
import { verifyWebhookSignature } from "../../lambdas/domain/webhook-signature.ts";
import { type PostResult, WebhookDispatcher } from "../../lambdas/webhooks/dispatch.ts";

/** The webhook store in memory, with the same conditions as the DynamoDB one. */
class MemoryWebhooks {
  readonly endpoints = new Map<string, Webhook>();
  readonly log = new Map<string, WebhookDelivery>();
  readonly store = {
    all: async () => [...this.endpoints.values()],
    get: async (id: string) => this.endpoints.get(id),
    begin: async (webhookId: string, event: WebhookEvent) => {
      const key = `DELIVERY#${event.createdAt.slice(0, 10)}#${event.id}`;
      if (this.log.has(`${webhookId}|${key}`)) return undefined;
      const delivery: WebhookDelivery = { webhookId, key, event, status: "pending", attempts: 0 };
      this.log.set(`${webhookId}|${key}`, delivery);
      return delivery;
    },
    delivery: async (webhookId: string, key: string) => this.log.get(`${webhookId}|${key}`),
    recordAttempt: async (delivery: WebhookDelivery, outcome: Partial<WebhookDelivery>, now: string) => {
      const current = this.log.get(`${delivery.webhookId}|${delivery.key}`);
      if (current?.attempts !== delivery.attempts) return false;
      this.log.set(`${delivery.webhookId}|${delivery.key}`, {
        ...delivery,
        ...outcome,
        attempts: delivery.attempts + 1,
        firstAttemptAt: delivery.firstAttemptAt ?? now,
        lastAttemptAt: now,
      });
      return true;
    },
    markFailing: async (id: string, now: string) => {
      const w = this.endpoints.get(id) as Webhook;
      if (!w.failingSince) this.endpoints.set(id, { ...w, failingSince: now });
      return this.endpoints.get(id)?.failingSince as string;
    },
    markHealthy: async (id: string) => {
      const { failingSince: _, ...w } = this.endpoints.get(id) as Webhook;
      this.endpoints.set(id, w);
    },
    disable: async (id: string, reason: string) => {
      const w = this.endpoints.get(id) as Webhook;
      if (w.status === "disabled") return false;
      this.endpoints.set(id, { ...w, status: "disabled", disabledReason: reason });
      return true;
    },
  };
}

const START = Date.parse("2026-06-01T00:00:00Z");
const idOf = (body: string) => (JSON.parse(body) as WebhookEvent).id;

function setup(answer: (url: string) => PostResult) {
  const memory = new MemoryWebhooks();
  let now = START;
  const posts: { url: string; body: string; headers: Record<string, string> }[] = [];
  const retries: { message: WebhookMessage; delaySeconds: number }[] = [];
  const notices: string[] = [];
  const dispatcher = new WebhookDispatcher({
    store: memory.store,
    post: async (url, body, headers) => {
      posts.push({ url, body, headers });
      return answer(url);
    },
    retryLater: async (message, delaySeconds) => {
      retries.push({ message, delaySeconds });
    },
    now: () => now,
    onNotice: (n) => notices.push(n.type),
  });
  const endpoint = (id: string, events: Webhook["events"], secrets = ["secret-of-sixteen-chars"]) =>
    memory.endpoints.set(id, {
      id,
      url: `https://${id}.example/hook`,
      events,
      secrets,
      status: "enabled",
      createdAt: "x",
      updatedAt: "x",
    });
  return { memory, dispatcher, posts, retries, notices, endpoint, advance: (ms: number) => (now += ms) };
}

const sent = (email: string) =>
  recipientEvent("recipient.sent", {
    campaignId: "c1",
    email,
    at: "2026-06-01T00:00:00.000Z",
    sesMessageId: "m",
    region: "us-east-1",
  });

describe("webhook deliveries", () => {
  it("deliver each event once to each endpoint that takes it, signed with every active secret", async () => {
    const t = setup(() => ({ status: 204 }));
    t.endpoint("a", ["recipient.sent"], ["new-secret-0123456", "old-secret-0123456"]);
    t.endpoint("b", ["recipient.delivered"]);
    const events = [sent("x@example.com"), sent("y@example.com")];
    await t.dispatcher.handle({ kind: "events", events });
    // The same events published again (a producer's retry): nothing is delivered twice.
    await t.dispatcher.handle({ kind: "events", events });
    expect(t.posts.map((p) => [p.url, idOf(p.body)])).toEqual([
      ["https://a.example/hook", events[0]?.id],
      ["https://a.example/hook", events[1]?.id],
    ]);
    for (const post of t.posts) {
      const header = post.headers["Steadfast-Signature"];
      expect(verifyWebhookSignature(header, post.body, ["old-secret-0123456"], START / 1000)).toBe(true);
      expect(verifyWebhookSignature(header, post.body, ["new-secret-0123456"], START / 1000)).toBe(true);
    }
    expect([...t.memory.log.values()].every((d) => d.status === "delivered" && d.attempts === 1)).toBe(true);
  });

  it("retry a failing endpoint with growing waits, then deliver the same event when it is back", async () => {
    let up = false;
    const t = setup(() => (up ? { status: 200 } : { error: "ECONNREFUSED" }));
    t.endpoint("a", ["recipient.sent"]);
    const event = sent("x@example.com");
    await t.dispatcher.handle({ kind: "events", events: [event] });
    expect(t.retries.map((r) => r.delaySeconds)).toEqual([30]);
    t.advance(30_000);
    await t.dispatcher.handle(t.retries[0]?.message as WebhookMessage);
    expect(t.retries.map((r) => r.delaySeconds)).toEqual([30, 60]);
    // A retry that comes early (a replayed message) waits for its time.
    await t.dispatcher.handle(t.retries[1]?.message as WebhookMessage);
    expect(t.posts).toHaveLength(2);
    expect(t.retries.at(-1)?.delaySeconds).toBe(60);
    up = true;
    t.advance(60_000);
    await t.dispatcher.handle(t.retries[1]?.message as WebhookMessage);
    expect(t.posts.map((p) => idOf(p.body))).toEqual([event.id, event.id, event.id]);
    expect([...t.memory.log.values()][0]).toMatchObject({ status: "delivered", attempts: 3 });
    expect(t.memory.endpoints.get("a")?.failingSince).toBeUndefined();
  });

  it("give up on a delivery after 3 days, and disable an endpoint after a day of failures", async () => {
    const t = setup(() => ({ status: 500 }));
    t.endpoint("a", ["recipient.sent"]);
    await t.dispatcher.handle({ kind: "events", events: [sent("x@example.com")] });
    let hops = 0;
    while (t.retries.length > 0 && hops++ < 1000) {
      const { message, delaySeconds } = t.retries.shift() as {
        message: WebhookMessage;
        delaySeconds: number;
      };
      t.advance(delaySeconds * 1000);
      await t.dispatcher.handle(message);
      if (t.memory.endpoints.get("a")?.status === "disabled") break;
    }
    expect(t.memory.endpoints.get("a")?.status).toBe("disabled");
    expect(t.notices.filter((n) => n === "disabled")).toHaveLength(1);
    const delivery = [...t.memory.log.values()][0] as WebhookDelivery;
    expect(Date.parse(delivery.lastAttemptAt as string) - START).toBeGreaterThanOrEqual(DISABLE_AFTER_MS);

    // A delivery to a healthy-looking endpoint that always fails ends `failed` within 3 days.
    const u = setup(() => ({ status: 503 }));
    u.memory.endpoints.set("b", { ...(t.memory.endpoints.get("a") as Webhook), id: "b", status: "enabled" });
    await u.dispatcher.handle({ kind: "events", events: [sent("y@example.com")] });
    for (let i = 0; u.retries.length > 0 && i < 1000; i++) {
      const { message, delaySeconds } = u.retries.shift() as {
        message: WebhookMessage;
        delaySeconds: number;
      };
      u.advance(delaySeconds * 1000);
      await u.dispatcher.handle(message);
    }
    const last = [...u.memory.log.values()][0] as WebhookDelivery;
    expect(last.status).toBe("failed");
    expect(Date.parse(last.lastAttemptAt as string) - START).toBeLessThan(RETRY_FOR_MS);
    expect(last.lastStatusCode).toBe(503);
  });
});

describe("webhook rules", () => {
  it("wait 30 s, doubling to an hour, and stop 3 days after the first try", () => {
    expect([1, 2, 3, 4, 7, 8, 20].map((n) => nextRetrySeconds(n, START, START))).toEqual([
      30, 60, 120, 240, 1920, 3600, 3600,
    ]);
    expect(nextRetrySeconds(50, START, START + RETRY_FOR_MS - 1000)).toBeUndefined();
  });

  it("take HTTPS URLs, and plain HTTP to loopback only where allowed", () => {
    expect(webhookUrlProblem("https://hooks.example/x", false)).toBeUndefined();
    expect(webhookUrlProblem("http://127.0.0.1:9000/x", true)).toBeUndefined();
    expect(webhookUrlProblem("http://127.0.0.1:9000/x", false)).toBe("must be https");
    expect(webhookUrlProblem("http://hooks.example/x", true)).toMatch(/https/);
    expect(webhookUrlProblem("https://user:pw@hooks.example/x", false)).toMatch(/credentials/);
    expect(webhookUrlProblem("not a url", false)).toMatch(/absolute/);
  });

  it("turn a preference-center save into the changes it made, the mailed list's unsubscribe counted", () => {
    const events = preferenceEvents(
      { email: "p@example.com", listId: "weekly", campaignId: "c1" },
      [
        { listId: "weekly", status: "subscribed" },
        { listId: "monthly", status: "subscribed" },
        { listId: "offers", status: "unsubscribed" },
        { listId: "old", status: "bounced" },
      ],
      [
        { listId: "weekly", status: "unsubscribed" },
        { listId: "monthly", status: "subscribed" },
        { listId: "offers", status: "subscribed" },
        { listId: "old", status: "bounced" },
      ],
      "2026-06-01T00:00:00.000Z",
    );
    expect(events.map((e) => [e.type, e.data.listId])).toEqual([
      ["subscriber.unsubscribed", "weekly"],
      ["recipient.unsubscribed", "weekly"],
      ["subscriber.updated", "offers"],
    ]);
  });

  it("give one fact one id, however often it is published", () => {
    expect(sent("x@example.com").id).toBe(sent("x@example.com").id);
    expect(sent("x@example.com").id).toBe(webhookEventId("recipient.sent", "c1", "x@example.com", ""));
    expect(sent("x@example.com").id).not.toBe(sent("y@example.com").id);
  });
});
