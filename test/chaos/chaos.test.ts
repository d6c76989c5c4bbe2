import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Chaos, startChaosRuntime } from "./harness.ts";

/**
 * The chaos suite: each scenario sends a campaign of at least 500 recipients on the real emulators,
 * breaks something on the way, and checks that every recipient ends terminal, that the SES stores of
 * all regions together hold each `sent` recipient exactly once, and that nobody is missing.
 */
let chaos: Chaos;
const SEND_TIMEOUT = 90_000;
/** On the production timings, a campaign must finish this soon after its last crash or fault. */
const RECOVERY_LIMIT_MS = 150_000;

beforeAll(async () => {
  chaos = await startChaosRuntime();
});

afterEach(async () => {
  await chaos?.heal();
});

afterAll(async () => {
  await chaos?.runtime.stop();
});

const isSent = (c: { status: string }) => c.status === "sent";

describe("chaos", () => {
  // First: no breaker is left half-open by an earlier scenario, so every failover here would be
  // the throttling's doing (there must be none).
  it("c. home region throttled at 20/s: slows down, never counts a throttled send, never fails over", async () => {
    await chaos.fault({ target: "ses", region: "us-east-1", mode: "throttle", ratePerSecond: 20 });
    const before = await stats();
    const run = await chaos.campaign("c", 500);
    await chaos.waitFor(run.id, isSent, 120_000);
    const { recipients } = await chaos.verify(run);
    const where = recipients.reduce<Record<string, number>>((acc, r) => {
      const key = `${r.status}@${r.region}`;
      acc[key] = (acc[key] ?? 0) + 1;
      return acc;
    }, {});
    expect(where).toEqual({ "sent@us-east-1": 500 });
    const after = await stats();
    const calls =
      (after.requests.ses?.SendEmail?.["us-east-1"] ?? 0) -
      (before.requests.ses?.SendEmail?.["us-east-1"] ?? 0);
    const accepted = (after.sesAccepted["us-east-1"] ?? 0) - (before.sesAccepted["us-east-1"] ?? 0);
    expect(accepted).toBe(500);
    // The proxy answered 429 to the rest; adaptive pacing keeps them a minority.
    expect(calls - accepted).toBeLessThan(calls * 0.5);
  });

  it("a. home-region SES down from the start: everything fails over to the other region", async () => {
    await chaos.fault({ target: "ses", region: "us-east-1", mode: "down" });
    const run = await chaos.campaign("a", 500);
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    const { recipients } = await chaos.verify(run);
    expect(recipients.every((r) => r.status === "sent" && r.region === "us-west-2")).toBe(true);
  });

  it("b. home-region SES answers InternalFailure halfway: the rest fails over", async () => {
    const run = await chaos.campaign("b", 500);
    await chaos.waitFor(run.id, (c) => c.counts.sent >= 200, SEND_TIMEOUT);
    await chaos.fault({ target: "ses", region: "us-east-1", mode: "error", error: "InternalFailure" });
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    const { recipients } = await chaos.verify(run);
    const regions = new Set(recipients.map((r) => r.region));
    expect(recipients.every((r) => r.status === "sent")).toBe(true);
    expect([...regions].sort()).toEqual(["us-east-1", "us-west-2"]);
  });

  it("d. every region down for 30 s: nothing is lost or dead-lettered, sending resumes by itself", async () => {
    await chaos.fault({ target: "ses", region: "us-east-1", mode: "down" });
    await chaos.fault({ target: "ses", region: "us-west-2", mode: "down" });
    const run = await chaos.campaign("d", 500);
    await new Promise((r) => setTimeout(r, 30_000));
    const during = await chaos.status(run.id);
    expect(during?.counts.sent).toBe(0);
    expect(await dlqDepth()).toBe(0);
    await chaos.heal();
    const healedAt = Date.now();
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    // Retries back off to at most 60 s (RETRY_MAX_DELAY_SECONDS): sending resumes within that
    // and the breaker's cool-down.
    const resumed = (Date.now() - healedAt) / 1000;
    console.info(`scenario d: finished ${resumed.toFixed(0)} s after every region came back`);
    expect(resumed).toBeLessThan(90);
    await chaos.verify(run);
    expect(await dlqDepth()).toBe(0);
  });

  it("e. DynamoDB answers errors for 10 s mid-campaign: no recipient lost or sent twice", async () => {
    const run = await chaos.campaign("e", 500);
    await chaos.waitFor(run.id, (c) => c.counts.sent >= 150, SEND_TIMEOUT);
    for (const region of ["us-east-1", "us-west-2"]) {
      await chaos.fault({ target: "dynamodb", region, mode: "error", error: "InternalServerError" });
    }
    await new Promise((r) => setTimeout(r, 10_000));
    await chaos.heal();
    const healedAt = Date.now();
    await chaos.waitFor(run.id, isSent, RECOVERY_LIMIT_MS);
    const recovery = (Date.now() - healedAt) / 1000;
    console.info(`scenario e: recovered ${recovery.toFixed(0)} s after the fault cleared`);
    expect(recovery * 1000).toBeLessThan(RECOVERY_LIMIT_MS);
    await chaos.verify(run);
  });

  it("h. the same send message delivered twice: each recipient still gets one email", async () => {
    const run = await chaos.campaign("h", 500, false);
    const body = JSON.stringify({
      campaignId: run.id,
      recipients: run.emails.slice(0, 50).map((email) => ({ email, attributes: {} })),
    });
    await chaos.api.expect(202, "POST", `/v1/campaigns/${run.id}/send`);
    await chaos.putOnSendQueue(body);
    await chaos.putOnSendQueue(body);
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    await chaos.verify(run);
  });

  it("i. a poison message beside good ones goes to the DLQ; the campaign is unharmed", async () => {
    const run = await chaos.campaign("i", 500);
    await chaos.putOnSendQueue("this is not a send message");
    await chaos.putOnSendQueue(
      JSON.stringify({ campaignId: "no-such-campaign", recipients: [{ email: "x@example.net" }] }),
    );
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    await chaos.verify(run);
    const deadline = Date.now() + 60_000;
    while ((await dlqDepth()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(await dlqDepth()).toBe(2);
    // An operator's redrive moves them back to the queue (where they fail again, as they should).
    const redrive = await chaos.api.expect<{ redrives: { method: string; moved: number }[] }>(
      202,
      "POST",
      "/v1/admin/dlq/redrive",
      { queue: "send" },
    );
    expect(redrive.redrives[0]).toMatchObject({ method: "receive-send-delete", moved: 2 });
  });

  it("j. pause stops SES calls within seconds; resume finishes without duplicates", async () => {
    const run = await chaos.campaign("j", 500);
    await chaos.waitFor(run.id, (c) => c.counts.sent >= 100, SEND_TIMEOUT);
    await chaos.api.expect(200, "POST", `/v1/campaigns/${run.id}/pause`, { reason: "checking the copy" });
    await new Promise((r) => setTimeout(r, 3_000));
    const settled = [...(await chaos.deliveries(run.emails)).values()].reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, 4_000));
    const later = [...(await chaos.deliveries(run.emails)).values()].reduce((a, b) => a + b, 0);
    expect(later).toBe(settled);
    expect(settled).toBeLessThan(500);
    const paused = await chaos.status(run.id);
    expect(paused?.status).toBe("paused");
    await chaos.api.expect(200, "POST", `/v1/campaigns/${run.id}/resume`);
    await chaos.waitFor(run.id, isSent, SEND_TIMEOUT);
    await chaos.verify(run);
  });

  it("cancel: every recipient not yet sent ends cancelled", async () => {
    const run = await chaos.campaign("k", 500);
    await chaos.waitFor(run.id, (c) => c.counts.sent >= 100, SEND_TIMEOUT);
    await chaos.api.expect(200, "POST", `/v1/campaigns/${run.id}/cancel`);
    const done = await chaos.waitFor(
      run.id,
      (c) => c.status === "cancelled" && c.counts.queued === 0 && c.counts.sending === 0,
      SEND_TIMEOUT,
    );
    expect(done.counts.cancelled).toBeGreaterThan(0);
    expect(done.counts.sent + done.counts.cancelled).toBe(500);
    await chaos.verify(run);
  });
});

async function stats(): Promise<{
  requests: Record<string, Record<string, Record<string, number>>>;
  sesAccepted: Record<string, number>;
}> {
  return (await fetch(`${chaos.runtime.info.controlUrl}/stats`)).json() as never;
}

async function dlqDepth(): Promise<number> {
  const { queues } = await chaos.api.expect<{ queues: { name: string; dlq: { depth: number } }[] }>(
    200,
    "GET",
    "/v1/admin/queues",
  );
  return queues.find((q) => q.name === "send")?.dlq.depth ?? -1;
}
