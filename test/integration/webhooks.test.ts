import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookEventId } from "../../lambdas/domain/webhook-event.ts";
import { sesStore, SteadfastClient, until, waitForCampaign } from "../../local/client.ts";
import { freePort } from "../../local/processes.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { SteadfastApi, verifyWebhookSignature } from "../../sdk/index.ts";

/**
 * Outbound webhooks on the local runtime: a receiver (an HTTP server in this test) that is down for
 * the first 30 s of a campaign, then up, gets every event of every recipient, signed, none missing;
 * a replay delivers them again with the same ids.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

interface Received {
  readonly id: string;
  readonly type: string;
  readonly createdAt: string;
  readonly data: Record<string, unknown>;
  readonly signed: boolean;
}

const SECRET = "receiver-secret-0123456789";

/** A webhook receiver on `port`, started when asked: what it got, in order. */
function receiver(port: number) {
  const received: Received[] = [];
  let server: http.Server | undefined;
  return {
    received,
    start: () =>
      new Promise<void>((resolve) => {
        server = http.createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            const event = JSON.parse(body) as Omit<Received, "signed">;
            const header = req.headers["steadfast-signature"] as string | undefined;
            received.push({ ...event, signed: verifyWebhookSignature(header, body, [SECRET]) });
            res.writeHead(204).end();
          });
        });
        server.listen(port, "127.0.0.1", () => resolve());
      }),
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

type ErrorBody = { error: { code: string; details?: { path: string }[] } };

describe("webhooks", () => {
  it("deliver every event to a receiver that was down for 30 s, signed, none missing, and replay them", async () => {
    const port = await freePort();
    const hook = receiver(port);
    try {
      // Refused, creating nothing: a URL that is not HTTPS nor loopback, an unknown event type.
      const refusedUrl = await api.request<ErrorBody>("POST", "/v1/webhooks", {
        url: "http://hooks.example/x",
        events: ["recipient.sent"],
        secret: SECRET,
      });
      expect([refusedUrl.status, refusedUrl.body.error.details?.[0]?.path]).toEqual([400, "body.url"]);
      const refusedType = await api.request<ErrorBody>("POST", "/v1/webhooks", {
        url: `http://127.0.0.1:${port}/hook`,
        events: ["recipient.teleported"],
        secret: SECRET,
      });
      expect([refusedType.status, refusedType.body.error.details?.[0]?.path]).toEqual([400, "body.events.0"]);

      const webhook = await api.expect<{ id: string; secretRotating: boolean }>(201, "POST", "/v1/webhooks", {
        url: `http://127.0.0.1:${port}/hook`,
        events: ["recipient.sent", "recipient.delivered"],
        secret: SECRET,
      });
      expect(webhook).not.toHaveProperty("secret");
      expect(webhook).not.toHaveProperty("secrets");

      // A second endpoint, always up, for the campaign's status changes and unsubscribes.
      const otherPort = await freePort();
      const other = receiver(otherPort);
      await other.start();
      await api.expect(201, "POST", "/v1/webhooks", {
        url: `http://127.0.0.1:${otherPort}/hook`,
        events: [
          "campaign.status_changed",
          "recipient.unsubscribed",
          "subscriber.unsubscribed",
          "subscriber.created",
          "subscriber.updated",
          "import.completed",
        ],
        secret: SECRET,
      });

      const emails = Array.from({ length: 20 }, (_, i) => `hooked${i}@example.com`);
      const { id: listId } = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Hooked" });
      await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
        subscribers: emails.map((email) => ({ email })),
      });
      const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
        listId,
        subject: "Hooked",
        html: "<p>Hi</p>",
      });
      const sentAt = Date.now();
      const since = new Date(sentAt - 60_000).toISOString();
      await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
      await waitForCampaign(api, campaign.id, 60_000);
      // The receiver is down for the first 30 s: every first try fails.
      await new Promise((r) => setTimeout(r, Math.max(0, sentAt + 30_000 - Date.now())));
      const upAt = Date.now();
      await hook.start();

      const expected = new Set(
        emails.flatMap((email) => [
          webhookEventId("recipient.sent", campaign.id, email, ""),
          webhookEventId("recipient.delivered", campaign.id, email, ""),
        ]),
      );
      const distinct = () => new Set(hook.received.map((r) => r.id));
      await until(
        async () => distinct().size,
        (n) => n >= expected.size,
        150_000,
      );
      expect([...distinct()].sort()).toEqual([...expected].sort());
      expect(hook.received.every((r) => r.signed)).toBe(true);
      for (const event of hook.received) {
        expect(event.data.campaignId).toBe(campaign.id);
        expect(emails).toContain(event.data.email);
        expect(typeof event.data.sesMessageId).toBe("string");
        expect(runtime.info.regions.map((r) => r.name)).toContain(event.data.region);
      }

      // The log: every delivery delivered (recorded just after the receiver answered); each one first
      // tried while the receiver was down, after a failed try. On a slow machine some events are
      // first tried only after it came back.
      type Logged = { eventId: string; status: string; attempts: number; firstAttemptAt?: string };
      const log = await until(
        () => api.expect<{ items: Logged[] }>(200, "GET", `/v1/webhooks/${webhook.id}/deliveries?limit=100`),
        (page) => page.items.every((d) => d.status === "delivered"),
        30_000,
      );
      expect(log.items.map((d) => d.eventId).sort()).toEqual([...expected].sort());
      expect(log.items.filter((d) => d.status !== "delivered")).toEqual([]);
      const triedWhileDown = log.items.filter((d) => Date.parse(d.firstAttemptAt ?? "") < upAt);
      expect(triedWhileDown.length).toBeGreaterThan(0);
      expect(triedWhileDown.filter((d) => d.attempts < 2)).toEqual([]);

      // A replay delivers every event again, each with its id.
      const before = hook.received.length;
      // Through the SDK, as a user would.
      const sdk = new SteadfastApi({ url: runtime.info.apiUrl, apiKey: runtime.info.apiKey });
      const replay = await sdk.webhooks.replay(webhook.id, { since });
      expect(replay.since).toBe(new Date(since).toISOString());
      await until(
        async () => hook.received.length,
        (n) => n >= before + expected.size,
        60_000,
      );
      expect(new Set(hook.received.slice(before).map((r) => r.id))).toEqual(expected);
      // The replay's deliveries are in the log beside the first ones, which stand as they were.
      const after = await sdk.webhooks.deliveries(webhook.id, { limit: 100 });
      const replayed = after.items.filter((d) => d.replayId === replay.replayId);
      expect(new Set(replayed.map((d) => d.eventId))).toEqual(expected);
      expect(replayed).toHaveLength(expected.size);

      // The campaign's status changes, in order, and an unsubscribe through a mailed link.
      const statuses = await until(
        async () =>
          other.received.filter((r) => r.type === "campaign.status_changed").map((r) => r.data.status),
        (v) => v.includes("sent"),
        30_000,
      );
      expect(statuses).toEqual(["queued", "sending", "sent"]);
      const mailed = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
        .flat()
        .find((m) => m.subject === "Hooked" && m.destination.to[0] === emails[0]);
      const link = /<([^>]+)>/.exec(
        mailed?.headers?.find((h) => h.name === "List-Unsubscribe")?.value ?? "",
      )?.[1];
      if (!link) throw new Error("no List-Unsubscribe header");
      const unsubscribed = await fetch(link, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      expect(unsubscribed.status).toBe(200);
      const unsubscribes = await until(
        async () => other.received.filter((r) => r.type.endsWith(".unsubscribed")),
        (v) => v.length >= 2,
        30_000,
      );
      expect(unsubscribes.map((r) => [r.type, r.data.email, r.data.listId]).sort()).toEqual([
        ["recipient.unsubscribed", emails[0], listId],
        ["subscriber.unsubscribed", emails[0], listId],
      ]);
      // The list's 20 subscribers were created through the API; an import updates one and adds one.
      const createdByApi = other.received.filter(
        (r) => r.type === "subscriber.created" && r.data.source === "api",
      );
      expect(createdByApi.map((r) => r.data.email).sort()).toEqual([...emails].sort());
      const imported = await fetch(`${runtime.info.apiUrl}/v1/lists/${listId}/imports`, {
        method: "POST",
        headers: { authorization: `Bearer ${runtime.info.apiKey}`, "content-type": "text/csv" },
        body: `email\n${emails[1]}\nnewcomer@example.com\n`,
      });
      expect(imported.status).toBe(202);
      const importId = ((await imported.json()) as { id: string }).id;
      const fromImport = await until(
        async () => other.received.filter((r) => r.data.source === "import" || r.type === "import.completed"),
        (v) => v.length >= 3,
        30_000,
      );
      expect(fromImport.map((r) => [r.type, r.data.email ?? r.data.importId]).sort()).toEqual([
        ["import.completed", importId],
        ["subscriber.created", "newcomer@example.com"],
        ["subscriber.updated", emails[1]],
      ]);
      expect(other.received.every((r) => r.signed)).toBe(true);
      await other.stop();

      // Rotating the secret: deliveries are signed with both until the next change.
      const rotated = await api.expect<{ secretRotating: boolean }>(
        200,
        "PATCH",
        `/v1/webhooks/${webhook.id}`,
        {
          secret: "the-next-secret-0123456789",
        },
      );
      expect(rotated.secretRotating).toBe(true);
      expect((await sdk.webhooks.get(webhook.id)).status).toBe("enabled");
      await sdk.webhooks.delete(webhook.id);
      await expect(sdk.webhooks.get(webhook.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
    } finally {
      await hook.stop();
    }
  });
});
