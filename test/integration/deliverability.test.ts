import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { simpleParser } from "mailparser";
import { STATUS_TTL_MS } from "../../lambdas/sender/deliver.ts";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { campaignCountersKey, ledgerKey } from "../../lambdas/adapters/dynamo/keys.ts";
import { SteadfastClient, waitForCampaign, sesRawMessage } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/**
 * Deliverability on the local runtime: RFC 8058 headers read back from the stored message, one-click
 * unsubscribe through the public route, the suppression list, and SES feedback from the mailbox
 * simulator through the real feedback queue and function, up to the reputation guard.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;
let db: DynamoDBDocumentClient;

const SIM = "simulator.amazonses.com";

beforeAll(async () => {
  // 20 emails/s: the 300-recipient campaign is still sending when its bounce rate is judged.
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000, sendRate: 20 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  db = localDocumentClient(runtime);
});

afterAll(async () => {
  await runtime?.stop();
});

interface Recipient {
  email: string;
  status: string;
  sesMessageId?: string;
  reason?: string;
}

interface CampaignView {
  id: string;
  status: string;
  pausedReason?: string;
  feedback?: Record<string, number>;
  counts: Record<string, number>;
}

async function createList(name: string, emails: readonly string[]): Promise<string> {
  const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name });
  const out = await api.expect<{ upserted: number }>(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
    subscribers: emails.map((email) => ({ email })),
  });
  expect(out.upserted).toBe(emails.length);
  return list.id;
}

async function startCampaign(listId: string, html = "<p>Hello {{email}}</p>"): Promise<string> {
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject: "News",
    html,
  });
  expect((await api.request("POST", `/v1/campaigns/${campaign.id}/send`)).status).toBe(202);
  return campaign.id;
}

async function recipients(campaignId: string): Promise<Map<string, Recipient>> {
  const page = await api.expect<{ items: Recipient[]; nextCursor?: string }>(
    200,
    "GET",
    `/v1/campaigns/${campaignId}/recipients?limit=1000`,
  );
  expect(page.nextCursor).toBeUndefined();
  return new Map(page.items.map((item) => [item.email, item]));
}

/** Which accepted messages the local SES publishes events for, from now on. */
async function eventsFor(events: "all" | "simulator"): Promise<number> {
  const res = await fetch(`${runtime.info.controlUrl}/feedback/mode`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events }),
  });
  return res.status;
}

async function campaign(id: string): Promise<CampaignView> {
  return api.expect<CampaignView>(200, "GET", `/v1/campaigns/${id}`);
}

/**
 * Waits until `sends` emails of the campaign are sent (or the guard paused it already), then takes
 * SES down so that the campaign cannot finish before its feedback is judged, however slow this
 * machine is, and waits for the reputation guard's pause. SES is back when it returns.
 */
async function pausedByGuard(id: string, sends: number): Promise<CampaignView> {
  try {
    await eventually(
      `${sends} sends`,
      async () => {
        const view = await campaign(id);
        return (view.counts.sent ?? 0) >= sends || view.pausedReason ? true : undefined;
      },
      120_000,
    );
    await setSesFault("down");
    return await eventually(
      "the reputation guard",
      async () => {
        const view = await campaign(id);
        return view.pausedReason ? view : undefined;
      },
      120_000,
    );
  } finally {
    await setSesFault("ok");
  }
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error as Error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? "")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the campaign's feedback counters equal `expected` (and stay equal a moment later). */
async function feedbackEquals(id: string, expected: Record<string, number>): Promise<void> {
  await eventually(`feedback ${JSON.stringify(expected)}`, async () => {
    const view = await campaign(id);
    expect(view.feedback).toMatchObject(expected);
    return true;
  });
  // Nothing left over: a late duplicate would show up here.
  await new Promise((r) => setTimeout(r, 1500));
  expect((await campaign(id)).feedback).toMatchObject(expected);
}

/** The raw message the local SES stored for an SES message id, parsed by a mail parser. */
async function storedMessage(sesMessageId: string) {
  for (const region of runtime.regions) {
    const emulatorId = region.proxies.ses.sesMessageIds.get(sesMessageId);
    const raw = emulatorId && (await sesRawMessage(region.sesUrl, emulatorId));
    if (raw) return { raw, parsed: await simpleParser(raw) };
  }
  throw new Error(`no stored message for ${sesMessageId}`);
}

async function subscriberStatus(listId: string, email: string): Promise<string | undefined> {
  const out = await db.send(
    new GetCommand({
      TableName: "steadfast-audience",
      Key: { pk: `LIST#${listId}`, sk: `SUB#${email}` },
      ConsistentRead: true,
    }),
  );
  return out.Item?.status as string | undefined;
}

async function inject(sesMessageId: string, type: string): Promise<number> {
  const response = await fetch(`${runtime.info.controlUrl}/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sesMessageId, type }),
  });
  return response.status;
}

async function setSesFault(mode: "down" | "ok"): Promise<void> {
  const response = await fetch(`${runtime.info.controlUrl}/faults`, {
    method: mode === "ok" ? "DELETE" : "POST",
    headers: { "content-type": "application/json" },
    ...(mode === "ok" ? {} : { body: JSON.stringify({ target: "ses", mode }) }),
  });
  expect(response.status).toBe(204);
}

describe("one-click unsubscribe, suppression and SES feedback", () => {
  const people = ["ana@example.com", "bob@example.com", "carol@example.com"];
  const simulated = [`success+1@${SIM}`, `complaint+1@${SIM}`, `ooto+1@${SIM}`, `suppressionlist+1@${SIM}`];
  let listId: string;
  let firstId: string;
  let first: Map<string, Recipient>;
  const links = new Map<string, string>();

  it("sends every email with RFC 8058 headers and a visible unsubscribe link", async () => {
    listId = await createList("Deliverability", [...people, ...simulated]);
    firstId = await startCampaign(listId);
    await waitForCampaign(api, firstId, 60_000);
    first = await recipients(firstId);
    expect([...first.values()].map((r) => r.status)).toEqual(Array(7).fill("sent"));

    for (const email of [...people, ...simulated]) {
      const { raw, parsed } = await storedMessage(first.get(email)?.sesMessageId ?? "");
      const lines = parsed.headerLines.map((h) => h.line);
      const listUnsubscribe = lines.filter((l) => /^list-unsubscribe:/i.test(l));
      const listUnsubscribePost = lines.filter((l) => /^list-unsubscribe-post:/i.test(l));
      expect(listUnsubscribe, email).toHaveLength(1);
      expect(listUnsubscribePost, email).toEqual(["List-Unsubscribe-Post: List-Unsubscribe=One-Click"]);
      // Exactly one URL, in angle brackets (RFC 2369 §2, RFC 8058 §3.1).
      const urls = [...(listUnsubscribe[0] ?? "").matchAll(/<([^>]+)>/g)].map((m) => m[1] as string);
      expect(urls, email).toHaveLength(1);
      const url = urls[0] as string;
      // Locally the API is plain http on loopback; on AWS it is the stage's https URL.
      // The shared hostname: a link mailed from one region works whichever region answers.
      expect(url.startsWith(`${runtime.info.sharedApiUrl}/u/`), url).toBe(true);
      const token = url.slice(url.lastIndexOf("/") + 1);
      expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      // The token carries no readable address.
      expect(Buffer.from(token, "base64url").toString("latin1")).not.toContain(email.split("@")[0]);
      expect(raw).not.toContain(`/u/${email}`);
      expect(parsed.html || "", email).toContain(`href="${url}"`);
      expect(parsed.text ?? "", email).toContain(url);
      links.set(email, url);
    }
  });

  it("shows a confirmation page on GET and unsubscribes only on the one-click POST", async () => {
    const url = links.get("ana@example.com") as string;
    const page = await fetch(url, { redirect: "manual" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<form method="post">');
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    // A GET (a link scanner) changed nothing.
    expect(await subscriberStatus(listId, "ana@example.com")).toBe("subscribed");

    for (let i = 0; i < 2; i++) {
      const response = await fetch(url, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.get("set-cookie")).toBeNull();
      expect(await subscriberStatus(listId, "ana@example.com")).toBe("unsubscribed");
    }
    // Counted once on the campaign the link came from, however often it is posted.
    await eventually("unsubscribed counter", async () =>
      (await campaign(firstId)).feedback?.unsubscribed === 1 ? true : undefined,
    );
  });

  it("refuses forged, altered and truncated tokens with 400 and changes nothing", async () => {
    const url = links.get("bob@example.com") as string;
    const token = url.slice(url.lastIndexOf("/") + 1);
    const flip = (c: string) => (c === "A" ? "B" : "A");
    const forged = [
      `${token.slice(0, 10)}${flip(token[10] as string)}${token.slice(11)}`,
      `${token.slice(0, -1)}${flip(token.at(-1) as string)}`,
      token.slice(0, -4),
      Buffer.from(JSON.stringify(["list", "bob@example.com", ""])).toString("base64url"),
      "not-a-token",
    ];
    for (const bad of forged) {
      for (const method of ["GET", "POST"]) {
        const response = await fetch(`${runtime.info.apiUrl}/u/${bad}`, {
          method,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          ...(method === "POST" ? { body: "List-Unsubscribe=One-Click" } : {}),
        });
        expect(response.status, `${method} ${bad}`).toBe(400);
        const body = (await response.json()) as { error: { code: string } };
        expect(body.error.code).toBe("invalid_token");
      }
    }
    // A genuine token without the one-click body is refused too.
    const noBody = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "" });
    expect(noBody.status).toBe(400);
    expect(await subscriberStatus(listId, "bob@example.com")).toBe("subscribed");
  });

  it("turns mailbox-simulator sends into exact feedback counters and suppressions", async () => {
    // Simulator addresses publish Send plus their outcome; ordinary addresses Send and Delivery.
    await feedbackEquals(firstId, {
      sent: 7,
      delivered: 6,
      bounced: 1,
      complained: 1,
      opened: 0,
      clicked: 0,
    });

    const success = first.get(`success+1@${SIM}`)?.sesMessageId as string;
    const bob = first.get("bob@example.com")?.sesMessageId as string;
    // Duplicates and reordering: two opens, a repeated delivery, a click, then a bounce for bob.
    for (const [id, type] of [
      [success, "Open"],
      [success, "Click"],
      [success, "Open"],
      [success, "Delivery"],
      [bob, "Open"],
      [bob, "Bounce"],
      [bob, "Bounce"],
    ] as const)
      expect(await inject(id, type)).toBe(202);
    expect(await inject("0100-unknown-000000", "Open")).toBe(404);
    await feedbackEquals(firstId, {
      sent: 7,
      delivered: 6,
      bounced: 2,
      complained: 1,
      opened: 2,
      clicked: 1,
    });

    const suppressions = await api.expect<{ items: { email: string; reason: string; createdAt: string }[] }>(
      200,
      "GET",
      "/v1/suppressions?limit=100",
    );
    const byEmail = new Map(suppressions.items.map((s) => [s.email, s.reason]));
    expect(byEmail.get(`complaint+1@${SIM}`)).toBe("complaint");
    expect(byEmail.get(`suppressionlist+1@${SIM}`)).toBe("bounce");
    expect(byEmail.get("bob@example.com")).toBe("bounce");
    expect(byEmail.has(`success+1@${SIM}`)).toBe(false);
    expect(await subscriberStatus(listId, "bob@example.com")).toBe("bounced");
    expect(await subscriberStatus(listId, `complaint+1@${SIM}`)).toBe("complained");

    const item = await db.send(
      new GetCommand({
        TableName: "steadfast-ledger",
        Key: ledgerKey(firstId, `success+1@${SIM}`),
      }),
    );
    expect(item.Item).toMatchObject({ status: "sent", clickedLink: "https://example.com/" });
    expect(item.Item?.deliveredAt && item.Item?.openedAt && item.Item?.clickedAt).toBeTruthy();
  });

  it("skips, as suppressed, someone who unsubscribes while the campaign is running", async () => {
    // SES is down everywhere: the campaign fans out and waits with every recipient queued.
    await setSesFault("down");
    let secondId = "";
    try {
      secondId = await startCampaign(listId);
      // ana unsubscribed, bob and suppressionlist+1 bounced, complaint+1 complained before this
      // campaign: fan-out leaves them out.
      await eventually("fan-out", async () => ((await recipients(secondId)).size === 3 ? true : undefined));
      const response = await fetch(links.get("carol@example.com") as string, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
      expect(response.status).toBe(200);
      // The link's host may route the unsubscribe to the other region: the sending region learns of
      // it once its replica has it (about a second). What is tested is what senders do from then on.
      await eventually("unsubscribe seen by the sending region", async () => {
        const carol = await api.request<{ status: string }>(
          "GET",
          `/v1/lists/${listId}/subscribers/${encodeURIComponent("carol@example.com")}`,
        );
        return carol.body.status === "unsubscribed" ? true : undefined;
      });
      // A sender re-reads a message's suppressions once they are STATUS_TTL_MS old: until then it
      // may still hold a read from before the unsubscribe reached it (honoured within seconds).
      await new Promise((r) => setTimeout(r, STATUS_TTL_MS + 1_000));
    } finally {
      await setSesFault("ok");
    }
    await waitForCampaign(api, secondId, 90_000);
    const second = await recipients(secondId);
    expect(second.get("carol@example.com")).toMatchObject({ status: "suppressed", reason: "unsubscribed" });
    expect(second.get(`success+1@${SIM}`)?.status).toBe("sent");
    expect(second.get(`ooto+1@${SIM}`)?.status).toBe("sent");
  });

  it("manages the account-wide suppression list through the API", async () => {
    const email = "Dora@Example.COM";
    expect((await new SteadfastClient(runtime.info.apiUrl).request("GET", "/v1/suppressions")).status).toBe(
      401,
    );
    const bad = await api.request<{ error: { details: { path: string }[] } }>(
      "PUT",
      "/v1/suppressions/not-an-email",
      {
        reason: "x",
      },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]?.path).toBe("path.email");
    const noReason = await api.request<{ error: { details: { path: string }[] } }>(
      "PUT",
      `/v1/suppressions/${encodeURIComponent(email)}`,
      {},
    );
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details[0]?.path).toBe("body.reason");
    expect((await api.request("GET", "/v1/suppressions?limit=0")).status).toBe(400);
    expect((await api.request("GET", "/v1/suppressions?cursor=%%%")).status).toBe(400);

    const put = await api.expect<{ email: string; reason: string; createdAt: string }>(
      200,
      "PUT",
      `/v1/suppressions/${encodeURIComponent(email)}`,
      { reason: "asked by phone" },
    );
    expect(put).toMatchObject({ email: "Dora@example.com", reason: "asked by phone" });

    // Pages of one walk the whole list.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.expect<{ items: { email: string }[]; nextCursor?: string }>(
        200,
        "GET",
        `/v1/suppressions?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.items.map((i) => i.email));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toContain("Dora@example.com");
    expect(new Set(seen).size).toBe(seen.length);

    // Suppressed across lists: a new list with her is skipped with the reason.
    const otherList = await createList("Other", ["Dora@example.com", "erin@example.com"]);
    const third = await startCampaign(otherList);
    await waitForCampaign(api, third, 60_000);
    const sent = await recipients(third);
    expect(sent.get("Dora@example.com")).toMatchObject({
      status: "suppressed",
      reason: "suppression list: asked by phone",
    });
    expect(sent.get("erin@example.com")?.status).toBe("sent");

    expect((await api.request("DELETE", `/v1/suppressions/${encodeURIComponent(email)}`)).status).toBe(204);
    expect((await api.request("DELETE", `/v1/suppressions/${encodeURIComponent(email)}`)).status).toBe(404);
  });

  it("pauses a campaign whose bounce rate crosses 5 % after 200 sends, and later campaigns skip the bounced", async () => {
    // 20 simulator bounces among 280 ordinary addresses, whose Send events the local SES publishes
    // as SES does.
    const bounces = Array.from({ length: 20 }, (_, i) => `bounce+${i}@${SIM}`);
    const readers = Array.from({ length: 280 }, (_, i) => `reader-${i}@example.com`);
    const bigList = await createList("Bouncy", [...bounces, ...readers]);
    const id = await startCampaign(bigList);

    // Bounces go out first (fan-out pages in key order).
    const paused = await pausedByGuard(id, 210);
    // Judged as soon as 200 sends were accepted: not every bounce may have been counted by then.
    expect(paused.pausedReason).toMatch(
      /^reputation guard: bounce rate \d+\.\d\d % \(\d+ of \d+ sent\) is above 5\.00 %$/,
    );
    const item = await db.send(
      new GetCommand({
        TableName: "steadfast-audience",
        Key: { pk: `CAMPAIGN#${id}`, sk: "#META" },
        ConsistentRead: true,
      }),
    );
    expect(item.Item?.status).toBe("paused");
    // The guard's mark is in the counter item of the region whose feedback function tripped it.
    const counters = await db.send(
      new GetCommand({
        TableName: "steadfast-audience",
        Key: campaignCountersKey(id, "us-east-1"),
        ConsistentRead: true,
      }),
    );
    const guard = counters.Item?.reputationGuard as { reason?: string } | undefined;
    expect(guard?.reason).toBe(paused.pausedReason);
    const [, bouncedWhenPaused, sentWhenPaused] = (
      /\((\d+) of (\d+) sent/.exec(paused.pausedReason ?? "") ?? []
    ).map(Number);
    expect(sentWhenPaused).toBeGreaterThanOrEqual(200);
    expect((bouncedWhenPaused ?? 0) / (sentWhenPaused ?? 1)).toBeGreaterThan(0.05);

    // Every bounce is suppressed account-wide: a later campaign on another list skips them.
    await eventually("20 bounces", async () =>
      (await campaign(id)).feedback?.bounced === 20 ? true : undefined,
    );
    const later = await createList("Later", [...bounces, `success+900@${SIM}`]);
    const laterId = await startCampaign(later);
    await waitForCampaign(api, laterId, 60_000);
    const laterRecipients = await recipients(laterId);
    for (const email of bounces)
      expect(laterRecipients.get(email), email).toMatchObject({
        status: "suppressed",
        reason: "suppression list: bounce",
      });
    expect(laterRecipients.get(`success+900@${SIM}`)?.status).toBe("sent");
  });

  it("judges the bounce rate by what SES accepted when most sends publish no Send event", async () => {
    // The local SES publishes events only for mailbox-simulator addresses for now, as if EventBridge
    // had lost the Send events of the other 250: the guard divides by the senders' own count of
    // accepted sends.
    expect(await eventsFor("simulator")).toBe(200);
    onTestFinished(async () => void (await eventsFor("all")));
    const readers = Array.from({ length: 250 }, (_, i) => `a-reader-${i}@example.com`);
    const bounces = Array.from({ length: 20 }, (_, i) => `bounce+${100 + i}@${SIM}`);
    const successes = Array.from({ length: 100 }, (_, i) => `success+${300 + i}@${SIM}`);
    const id = await startCampaign(await createList("Quiet", [...readers, ...bounces, ...successes]));
    // Readers go first, then the bounces (fan-out pages in key order).
    const paused = await pausedByGuard(id, 270);
    // Fewer than 200 Send events ever arrived (20 bounces, at most 100 successes).
    expect((await campaign(id)).feedback?.sent ?? 0).toBeLessThan(200);
    const sentWhenPaused = Number(/of (\d+) sent/.exec(paused.pausedReason ?? "")?.[1]);
    expect(sentWhenPaused).toBeGreaterThanOrEqual(200);
    expect(paused.pausedReason).toMatch(/^reputation guard: bounce rate \d+\.\d\d % \(\d+ of \d+ sent\)/);
  });
});
