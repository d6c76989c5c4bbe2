import { describe, expect, it } from "vitest";
import { WebhookOutbox, WebhookPublisher } from "../../lambdas/adapters/webhook-publisher.ts";
import type { Webhook } from "../../lambdas/adapters/webhook-store.ts";
import type { QueueMessage } from "../../lambdas/contracts/messages.ts";
import { campaignStatusEvent, recipientEvent } from "../../lambdas/domain/webhook-event.ts";

const endpoint = (events: Webhook["events"], state: Webhook["state"] = "enabled"): Webhook => ({
  id: "w",
  url: "https://x.example",
  events,
  secrets: ["s".repeat(16)],
  status: "enabled",
  state,
  createdAt: "x",
  updatedAt: "x",
});
const sent = recipientEvent("recipient.sent", {
  campaignId: "c",
  email: "a@example.com",
  at: "2026-01-01T00:00:00Z",
});
const status = campaignStatusEvent("c", "sending", "2026-01-01T00:00:00Z");

function setup(endpoints: () => Webhook[], failSend = false, failRead = () => false) {
  let now = 0;
  let reads = 0;
  const sentMessages: QueueMessage[] = [];
  const publisher = new WebhookPublisher(
    {
      all: async () => {
        reads++;
        if (failRead()) throw new Error("DynamoDB unavailable");
        return endpoints();
      },
    },
    {
      send: async (_url, message) => {
        if (failSend) throw new Error("SQS unavailable");
        sentMessages.push(message);
      },
    },
    "queue-url",
    () => now,
  );
  return { publisher, sentMessages, reads: () => reads, advance: (ms: number) => (now += ms) };
}

describe("the webhook publisher", () => {
  it("publishes only the events an enabled endpoint takes, reading the endpoints at most every 15 s", async () => {
    let endpoints = [endpoint(["recipient.sent"]), endpoint(["campaign.status_changed"], "disabled")];
    const t = setup(() => endpoints);
    await t.publisher.publish([sent, status]);
    await t.publisher.publish([sent]);
    expect(t.sentMessages).toEqual([
      { kind: "events", events: [sent] },
      { kind: "events", events: [sent] },
    ]);
    expect(t.reads()).toBe(1);
    // An endpoint added since is seen once the 15 s are up.
    endpoints = [endpoint(["campaign.status_changed"])];
    await t.publisher.publish([status]);
    expect(t.sentMessages).toHaveLength(2);
    t.advance(15_000);
    await t.publisher.publish([status]);
    expect(t.sentMessages.at(-1)).toEqual({ kind: "events", events: [status] });
  });

  it("keeps publishing by the last endpoints it read while DynamoDB fails, and throws with none read yet", async () => {
    let failing = true;
    const t = setup(
      () => [endpoint(["recipient.sent"])],
      false,
      () => failing,
    );
    await expect(t.publisher.publish([sent])).rejects.toThrow("DynamoDB unavailable");
    failing = false;
    await t.publisher.publish([sent]);
    failing = true;
    t.advance(60_000);
    await t.publisher.publish([sent]);
    expect(t.sentMessages).toHaveLength(2);
  });

  it("throws from publish (the caller's batch comes back), and never from flush", async () => {
    const t = setup(() => [endpoint(["recipient.sent"])], true);
    await expect(t.publisher.publish([sent])).rejects.toThrow("SQS unavailable");
    const buffer = [sent];
    await expect(t.publisher.flush(buffer)).resolves.toBeUndefined();
    expect(buffer).toEqual([]);
  });
});

describe("the webhook outbox", () => {
  const events = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) =>
      recipientEvent("recipient.sent", {
        campaignId: "c",
        email: `r${from + i}@example.com`,
        at: "2026-01-01T00:00:00Z",
      }),
    );

  function outbox(fail: () => boolean) {
    let now = 0;
    let tries = 0;
    const published: number[] = [];
    const ids: string[] = [];
    const box = new WebhookOutbox(
      {
        publish: async (batch) => {
          tries++;
          if (fail()) throw new Error("SQS unavailable");
          published.push(batch.length);
          ids.push(...batch.map((e) => e.id));
        },
      },
      () => now,
    );
    return { box, published, ids, tries: () => tries, advance: (ms: number) => (now += ms) };
  }

  it("publishes a message's worth as soon as it has gathered, and the rest when drained", async () => {
    const t = outbox(() => false);
    for (const e of events(250)) t.box.add(e);
    await new Promise((r) => setTimeout(r, 0));
    // Two full messages went while the batch was still going.
    expect(t.published).toEqual([100, 100]);
    await t.box.drain();
    expect(t.published).toEqual([100, 100, 50]);
    expect(new Set(t.ids).size).toBe(250);
  });

  it("publishes what waited a second, without waiting for a full message", async () => {
    const t = outbox(() => false);
    const [first, second] = events(2);
    t.box.add(first as never);
    t.advance(1_000);
    t.box.add(second as never);
    await new Promise((r) => setTimeout(r, 0));
    expect(t.published).toEqual([2]);
  });

  it("keeps what the queue refused for the drain, which throws while it is still refused", async () => {
    let down = true;
    const t = outbox(() => down);
    for (const e of events(350)) t.box.add(e);
    await expect(t.box.drain()).rejects.toThrow("SQS unavailable");
    expect(t.published).toEqual([]);
    // Once refused, the rest of the batch waited for the drain: two tries, not one per message.
    expect(t.tries()).toBe(2);
    down = false;
    for (const e of events(10, 350)) t.box.add(e);
    await t.box.drain();
    expect(t.published.reduce((a, b) => a + b, 0)).toBe(360);
    expect(new Set(t.ids).size).toBe(360);
  });
});
