import { describe, expect, it } from "vitest";
import type { WebhookDelivery } from "../../lambdas/adapters/webhook-delivery-store.ts";
import type { Webhook, WebhookSettings } from "../../lambdas/adapters/webhook-store.ts";
import type { WebhookEvent, WebhookMessage } from "../../lambdas/contracts/webhook-events.ts";
import {
  DISABLE_AFTER_MS,
  type EndpointHealth,
  endpointState,
  isCutOff,
  nextRetrySeconds,
  RETRY_FOR_MS,
  webhookUrlProblem,
} from "../../lambdas/domain/webhook-delivery.ts";
import { preferenceEvents, recipientEvent, webhookEventId } from "../../lambdas/domain/webhook-event.ts";
import { verifyWebhookSignature } from "../../lambdas/domain/webhook-signature.ts";
import { type PostResult, WebhookDispatcher } from "../../lambdas/webhooks/dispatch.ts";

/** The webhook stores in memory, with the same conditions as the DynamoDB ones. */
class MemoryWebhooks {
  readonly endpoints = new Map<string, WebhookSettings>();
  /** Each region's health of each endpoint, by `<id>#<region>`. */
  readonly health = new Map<string, EndpointHealth>();
  readonly log = new Map<string, WebhookDelivery>();
  /** What `all()` answers when set: a read from before the latest writes (it is eventually consistent). */
  staleAll: Webhook[] | undefined;
  private withState(settings: WebhookSettings): Webhook {
    const health = [...this.health.entries()]
      .filter(([key]) => key.startsWith(`${settings.id}#`))
      .map(([, h]) => h);
    return { ...settings, ...endpointState(settings, health) };
  }
  private healthOf(id: string, region: string): EndpointHealth {
    return this.health.get(`${id}#${region}`) ?? { region };
  }
  readonly store = {
    all: async () => this.staleAll ?? [...this.endpoints.values()].map((w) => this.withState(w)),
    get: async (id: string) => {
      const settings = this.endpoints.get(id);
      return settings ? this.withState(settings) : undefined;
    },
    markFailing: async (id: string, region: string, now: string, since: string) => {
      const h = this.healthOf(id, region);
      if (!h.failingSince || h.failingSince < since)
        this.health.set(`${id}#${region}`, { ...h, failingSince: now });
      return this.healthOf(id, region).failingSince as string;
    },
    markHealthy: async (id: string, region: string) => {
      const { failingSince: _, ...h } = this.healthOf(id, region);
      this.health.set(`${id}#${region}`, h);
    },
    disable: async (id: string, region: string, reason: string, now: string, since: string) => {
      const h = this.healthOf(id, region);
      if (h.disabledAt && h.disabledAt >= since) return false;
      this.health.set(`${id}#${region}`, { ...h, disabledAt: now, disabledReason: reason });
      return true;
    },
  };
  readonly deliveries = {
    begin: async (webhookId: string, event: WebhookEvent, nowMs: number, replayId?: string) => {
      const key = `DELIVERY#${event.createdAt.slice(0, 10)}#${event.id}${replayId ? `#R${replayId}` : ""}`;
      const existing = this.log.get(`${webhookId}|${key}`);
      if (existing) return isCutOff(existing, nowMs) ? existing : undefined;
      const delivery: WebhookDelivery = {
        webhookId,
        key,
        event,
        ...(replayId ? { replayId } : {}),
        status: "pending",
        attempts: 0,
        begunAt: nowMs,
      };
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
    /** Pages of `limit` by position, as DynamoDB's (a cursor is the index to go on from). */
    firstDeliveriesSince: async (
      webhookId: string,
      since: string,
      until: string,
      limit: number,
      cursor?: string,
    ) => {
      const firsts = [...this.log.values()]
        .filter(
          (d) =>
            d.webhookId === webhookId &&
            !d.replayId &&
            d.event.createdAt >= since &&
            d.event.createdAt <= until,
        )
        .sort((a, b) => a.key.localeCompare(b.key));
      const from = Number(cursor ?? 0);
      const items = firsts.slice(from, from + limit);
      return from + limit < firsts.length ? { items, nextCursor: String(from + limit) } : { items };
    },
  };
}

const START = Date.parse("2026-06-01T00:00:00Z");
const idOf = (body: string) => (JSON.parse(body) as WebhookEvent).id;

function setup(answer: (url: string) => PostResult, region = "us-east-1", memory = new MemoryWebhooks()) {
  let now = START;
  const posts: { url: string; body: string; headers: Record<string, string> }[] = [];
  const retries: { message: WebhookMessage; delaySeconds: number }[] = [];
  const notices: string[] = [];
  const dispatcher = new WebhookDispatcher({
    store: memory.store,
    log: memory.deliveries,
    region,
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
      createdAt: "2026-05-01T00:00:00.000Z",
      updatedAt: "2026-05-01T00:00:00.000Z",
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
    expect((await t.memory.store.get("a"))?.failingSince).toBeUndefined();
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
      if ((await t.memory.store.get("a"))?.state === "disabled") break;
    }
    expect((await t.memory.store.get("a"))?.state).toBe("disabled");
    expect(t.notices.filter((n) => n === "disabled")).toHaveLength(1);
    const delivery = [...t.memory.log.values()][0] as WebhookDelivery;
    expect(Date.parse(delivery.lastAttemptAt as string) - START).toBeGreaterThanOrEqual(DISABLE_AFTER_MS);

    // A delivery to a healthy-looking endpoint that always fails ends `failed` within 3 days.
    const u = setup(() => ({ status: 503 }));
    u.memory.endpoints.set("b", { ...(t.memory.endpoints.get("a") as WebhookSettings), id: "b" });
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

describe("webhook health across regions", () => {
  /** Drives every retry a dispatcher has queued, its clock moved to each one's time. */
  async function drain(t: ReturnType<typeof setup>, stop: () => Promise<boolean>) {
    for (let hops = 0; t.retries.length > 0 && hops < 1000; hops++) {
      const { message, delaySeconds } = t.retries.shift() as {
        message: WebhookMessage;
        delaySeconds: number;
      };
      t.advance(delaySeconds * 1000);
      await t.dispatcher.handle(message);
      if (await stop()) return;
    }
  }

  it("clear a failure this container recorded, even when the endpoints were read before it", async () => {
    let calls = 0;
    const t = setup(() => (calls++ === 0 ? { status: 500 } : { status: 204 }));
    t.endpoint("a", ["recipient.sent"]);
    // Every message reads the endpoints as they were before the failure (replication lag).
    t.memory.staleAll = await t.memory.store.all();
    await t.dispatcher.handle({ kind: "events", events: [sent("x@example.com")] });
    expect(t.memory.health.get("a#us-east-1")?.failingSince).toBeDefined();
    await t.dispatcher.handle({ kind: "events", events: [sent("y@example.com")] });
    expect(t.memory.health.get("a#us-east-1")?.failingSince).toBeUndefined();
  });
  it("keeps each region's failures apart, disables on one region's day of failures, and forgets them once enabled", async () => {
    const memory = new MemoryWebhooks();
    const east = setup(() => ({ status: 204 }), "us-east-1", memory);
    const west = setup(() => ({ status: 500 }), "us-west-2", memory);
    east.endpoint("a", ["recipient.sent"]);
    await west.dispatcher.handle({ kind: "events", events: [sent("w@example.com")] });
    // A success in the east does not erase the west's failure: each region writes its own record.
    await east.dispatcher.handle({ kind: "events", events: [sent("e@example.com")] });
    expect(memory.health.get("a#us-west-2")?.failingSince).toBe(new Date(START).toISOString());
    expect((await memory.store.get("a"))?.state).toBe("enabled");

    await drain(west, async () => (await memory.store.get("a"))?.state === "disabled");
    const disabled = await memory.store.get("a");
    expect(disabled?.state).toBe("disabled");
    expect(disabled?.disabledReason).toMatch(/^us-west-2: every delivery failed since /);
    expect(memory.health.get("a#us-east-1")?.disabledAt).toBeUndefined();
    // A disabled endpoint gets no new deliveries, in any region.
    const posted = east.posts.length;
    await east.dispatcher.handle({ kind: "events", events: [sent("late@example.com")] });
    expect(east.posts).toHaveLength(posted);

    // Enabled again through the API (its settings: enabledAt): the regions' records are history, and
    // a new failure starts a new day rather than disabling it at once.
    const enabledAt = new Date(START + 2 * DISABLE_AFTER_MS).toISOString();
    memory.endpoints.set("a", { ...(memory.endpoints.get("a") as WebhookSettings), enabledAt });
    expect(await memory.store.get("a")).toMatchObject({ state: "enabled" });
    expect((await memory.store.get("a"))?.failingSince).toBeUndefined();
    west.advance(2 * DISABLE_AFTER_MS);
    await west.dispatcher.handle({ kind: "events", events: [sent("again@example.com")] });
    const after = await memory.store.get("a");
    expect(after?.state).toBe("enabled");
    expect(after?.failingSince && after.failingSince >= enabledAt).toBe(true);
  });

  it("reads the state from the settings and every region's health", () => {
    const settings = { status: "enabled" as const, createdAt: "2026-01-01T00:00:00.000Z" };
    const health: EndpointHealth[] = [
      { region: "us-east-1", failingSince: "2026-01-03T00:00:00.000Z" },
      {
        region: "us-west-2",
        failingSince: "2026-01-02T00:00:00.000Z",
        disabledAt: "2026-01-03T00:00:00.000Z",
        disabledReason: "r",
      },
    ];
    expect(endpointState(settings, health)).toEqual({
      state: "disabled",
      failingSince: "2026-01-02T00:00:00.000Z",
      disabledReason: "us-west-2: r",
    });
    expect(endpointState({ ...settings, enabledAt: "2026-01-04T00:00:00.000Z" }, health)).toEqual({
      state: "enabled",
    });
    expect(endpointState({ ...settings, status: "disabled" }, [])).toEqual({ state: "disabled" });
  });
});

describe("webhook replays", () => {
  it("deliver every first delivery since a time again, page by page, each once, as the replay's own", async () => {
    const t = setup(() => ({ status: 204 }));
    t.endpoint("a", ["recipient.sent"]);
    const events = Array.from({ length: 250 }, (_, i) => sent(`r${i}@example.com`));
    for (let i = 0; i < events.length; i += 100)
      await t.dispatcher.handle({ kind: "events", events: events.slice(i, i + 100) });
    expect(t.posts).toHaveLength(250);
    const replay: WebhookMessage = {
      kind: "replay",
      webhookId: "a",
      replayId: "r1",
      since: "2026-06-01T00:00:00.000Z",
      until: "2026-06-01T00:00:00.000Z",
    };
    await t.dispatcher.handle(replay);
    // The same page handled twice (a message delivered twice) delivers nothing twice.
    await t.dispatcher.handle(replay);
    expect(t.posts).toHaveLength(250 + 32);
    // The next pages come back through the queue, with where the last one stopped.
    while (t.retries.length > 0) {
      const next = t.retries.shift()?.message as WebhookMessage;
      expect(next).toMatchObject({ kind: "replay", replayId: "r1" });
      await t.dispatcher.handle(next);
    }
    expect(t.posts).toHaveLength(500);
    const replayed = t.posts.slice(250).map((p) => idOf(p.body));
    expect(new Set(replayed)).toEqual(new Set(events.map((e) => e.id)));
    expect(replayed).toHaveLength(250);
    // The first deliveries stand as they were; the replay's are items of their own.
    const log = [...t.memory.log.values()];
    expect(log.filter((d) => d.replayId === "r1" && d.status === "delivered")).toHaveLength(250);
    expect(log.filter((d) => !d.replayId && d.attempts === 1)).toHaveLength(250);
    // A second replay replays the first deliveries, not the first replay's.
    await t.dispatcher.handle({ ...replay, replayId: "r2" });
    for (let m = t.retries.shift(); m; m = t.retries.shift()) await t.dispatcher.handle(m.message);
    expect(t.posts).toHaveLength(750);
  });
  it("leave out the events that came after the replay was asked for", async () => {
    const t = setup(() => ({ status: 204 }));
    t.endpoint("a", ["recipient.sent"]);
    const before = sent("before@example.com");
    const later = recipientEvent("recipient.sent", {
      campaignId: "c1",
      email: "later@example.com",
      at: "2026-06-01T00:05:00.000Z",
    });
    await t.dispatcher.handle({ kind: "events", events: [before, later] });
    await t.dispatcher.handle({
      kind: "replay",
      webhookId: "a",
      replayId: "r",
      since: "2026-06-01T00:00:00.000Z",
      until: "2026-06-01T00:01:00.000Z",
    });
    expect(t.posts.slice(2).map((p) => idOf(p.body))).toEqual([before.id]);
  });
});

describe("a delivery cut off before its first try", () => {
  it("is tried when its event comes again 90 s on, and left to its worker before", async () => {
    const t = setup(() => ({ status: 204 }));
    t.endpoint("a", ["recipient.sent"]);
    const event = sent("x@example.com");
    // Begun by a worker that then died: the log item is pending, never tried.
    await t.memory.deliveries.begin("a", event, START);
    t.advance(60_000);
    await t.dispatcher.handle({ kind: "events", events: [event] });
    expect(t.posts).toHaveLength(0);
    t.advance(30_000);
    await t.dispatcher.handle({ kind: "events", events: [event] });
    expect(t.posts.map((p) => idOf(p.body))).toEqual([event.id]);
    expect([...t.memory.log.values()][0]).toMatchObject({ status: "delivered", attempts: 1 });
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
