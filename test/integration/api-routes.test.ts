import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriberStore } from "../../lambdas/adapters/subscriber-store.ts";
import { SteadfastClient, until } from "../../local/client.ts";
import { sesStore } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/** Every route of the audience and campaign API, and every status code it promises. */
let runtime: LocalRuntime;
let api: SteadfastClient;
let subscribers: SubscriberStore;
let db: DynamoDBDocumentClient;

type ErrorBody = { error: { code: string; message: string; details?: { path: string; message: string }[] } };

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  db = localDocumentClient(runtime);
  subscribers = new SubscriberStore(db, "steadfast-audience");
});

afterAll(async () => {
  await runtime?.stop();
});

async function newList(name = "Routes"): Promise<string> {
  return (await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name })).id;
}

describe("API keys", () => {
  it("creates a key shown once, lists it without the secret, enforces scopes and revokes at once", async () => {
    const created = await api.expect<{ id: string; key: string; scopes: string[] }>(
      201,
      "POST",
      "/v1/api-keys",
      {
        name: "reporting",
        scopes: ["read"],
      },
    );
    expect(created.key).toMatch(/^sf_[A-Za-z0-9_-]{43}$/);
    const listed = await api.expect<{ items: Record<string, unknown>[] }>(200, "GET", "/v1/api-keys");
    const mine = listed.items.find((k) => k.id === created.id);
    expect(mine).toMatchObject({ name: "reporting", scopes: ["read"] });
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const reader = new SteadfastClient(runtime.info.apiUrl, created.key);
    expect((await reader.request("GET", "/v1/lists")).status).toBe(200);
    const forbidden = await reader.request<ErrorBody>("POST", "/v1/lists", { name: "nope" });
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, "forbidden"]);
    expect((await reader.request("GET", "/v1/api-keys")).status).toBe(403);

    const writer = await api.expect<{ key: string }>(201, "POST", "/v1/api-keys", {
      name: "crm",
      scopes: ["write"],
    });
    const crm = new SteadfastClient(runtime.info.apiUrl, writer.key);
    expect((await crm.request("GET", "/v1/lists")).status).toBe(200); // write implies read
    expect((await crm.request("POST", "/v1/api-keys", { name: "x", scopes: ["admin"] })).status).toBe(403);

    expect((await api.request("DELETE", `/v1/api-keys/${created.id}`)).status).toBe(204);
    const revoked = await reader.request<ErrorBody>("GET", "/v1/lists");
    expect([revoked.status, revoked.body.error.code]).toEqual([401, "unauthorized"]);
    expect((await api.request("DELETE", `/v1/api-keys/${created.id}`)).status).toBe(404);
  });

  it("answers 401 without a key or with an unknown one, and 400 for a bad scope", async () => {
    expect((await new SteadfastClient(runtime.info.apiUrl).request("GET", "/v1/lists")).status).toBe(401);
    const stranger = new SteadfastClient(runtime.info.apiUrl, `sf_${"A".repeat(43)}`);
    expect((await stranger.request("GET", "/v1/lists")).status).toBe(401);
    const bad = await api.request<ErrorBody>("POST", "/v1/api-keys", { name: "x", scopes: ["root"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details?.[0]?.path).toBe("body.scopes.0");
  });
});

describe("lists and subscribers", () => {
  it("pages lists, shows subscriberCount, renames, and answers 404 for unknown ids", async () => {
    const id = await newList("Count me");
    await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
      subscribers: [{ email: " Ana@Example.COM " }, { email: "bo@example.com" }, { email: "not an address" }],
    });
    expect(await api.expect(200, "GET", `/v1/lists/${id}`)).toMatchObject({
      id,
      name: "Count me",
      subscriberCount: 2,
    });
    expect(await api.expect(200, "PATCH", `/v1/lists/${id}`, { name: "Renamed" })).toMatchObject({
      name: "Renamed",
    });
    const first = await api.expect<{ items: { id: string }[]; nextCursor?: string }>(
      200,
      "GET",
      "/v1/lists?limit=1",
    );
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).toBeDefined();
    const second = await api.expect<{ items: { id: string }[] }>(
      200,
      "GET",
      `/v1/lists?limit=1&cursor=${first.nextCursor}`,
    );
    expect(second.items[0]?.id).not.toBe(first.items[0]?.id);
    expect((await api.request("GET", "/v1/lists/00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect(
      (await api.request("PATCH", "/v1/lists/00000000-0000-0000-0000-000000000000", { name: "x" })).status,
    ).toBe(404);
    const tooMany = await api.request<ErrorBody>("GET", "/v1/lists?limit=1001");
    expect([tooMany.status, tooMany.body.error.details?.[0]?.path]).toEqual([400, "query.limit"]);
    expect((await api.request<ErrorBody>("GET", "/v1/lists?cursor=garbage")).status).toBe(400);
    expect((await api.request<ErrorBody>("GET", `/v1/lists/${id}?verbose=1`)).status).toBe(400);
  });

  it("takes the documented maximum, 1,000 subscribers, in one PUT and stores every one; 1,001 change nothing", async () => {
    const id = await newList("A thousand");
    const subscribers = Array.from({ length: 1_001 }, (_, i) => ({ email: `bulk${i}@example.com` }));
    const tooMany = await api.request<ErrorBody>("PUT", `/v1/lists/${id}/subscribers`, { subscribers });
    expect([tooMany.status, tooMany.body.error.details?.[0]?.path]).toEqual([400, "body.subscribers"]);
    expect(await api.expect(200, "GET", `/v1/lists/${id}`)).toMatchObject({ subscriberCount: 0 });
    expect(
      await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
        subscribers: subscribers.slice(0, 1_000),
      }),
    ).toEqual({ upserted: 1_000, rejected: [] });
    expect(await api.expect(200, "GET", `/v1/lists/${id}`)).toMatchObject({ subscriberCount: 1_000 });
  });

  it("gets, filters, patches and erases subscribers, keeping the suppression list", async () => {
    const id = await newList("People");
    await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
      subscribers: [
        { email: "cy@example.com", attributes: { firstName: "Cy", vip: true } },
        { email: "di@example.com" },
        { email: "ed@example.com" },
      ],
    });
    expect(await api.expect(200, "GET", `/v1/lists/${id}/subscribers/cy@EXAMPLE.com`)).toBeDefined();
    const cy = await api.expect<Record<string, unknown>>(
      200,
      "GET",
      `/v1/lists/${id}/subscribers/cy%40example.com`,
    );
    expect(cy).toMatchObject({
      email: "cy@example.com",
      status: "subscribed",
      attributes: { firstName: "Cy", vip: true },
    });
    await api.expect(200, "PATCH", `/v1/lists/${id}/subscribers/di@example.com`, { status: "unsubscribed" });
    const unsubscribed = await api.expect<{ items: { email: string }[] }>(
      200,
      "GET",
      `/v1/lists/${id}/subscribers?status=unsubscribed`,
    );
    expect(unsubscribed.items.map((s) => s.email)).toEqual(["di@example.com"]);
    const all = await api.expect<{ items: unknown[]; nextCursor?: string }>(
      200,
      "GET",
      `/v1/lists/${id}/subscribers?limit=2`,
    );
    expect(all.items).toHaveLength(2);
    expect(all.nextCursor).toBeDefined();
    const bounced = await api.request<ErrorBody>("PATCH", `/v1/lists/${id}/subscribers/di@example.com`, {
      status: "bounced",
    });
    expect(bounced.status).toBe(400);
    expect((await api.request("GET", `/v1/lists/${id}/subscribers/zz@example.com`)).status).toBe(404);
    expect((await api.request("GET", `/v1/lists/${id}/subscribers?status=gone`)).status).toBe(400);

    // Erasure keeps the suppression item (issue 5's SUPPRESSION partition).
    await db.send(
      new PutCommand({
        TableName: "steadfast-audience",
        Item: { pk: "SUPPRESSION", sk: "cy@example.com", reason: "test" },
      }),
    );
    expect((await api.request("DELETE", `/v1/lists/${id}/subscribers/cy@example.com`)).status).toBe(204);
    expect((await api.request("GET", `/v1/lists/${id}/subscribers/cy@example.com`)).status).toBe(404);
    expect((await api.request("DELETE", `/v1/lists/${id}/subscribers/cy@example.com`)).status).toBe(404);

    expect((await api.request("DELETE", `/v1/lists/${id}`)).status).toBe(204);
    expect((await api.request("GET", `/v1/lists/${id}`)).status).toBe(404);
    const left = await until(
      () => subscribers.count(id),
      (n) => n === 0,
    );
    expect(left).toBe(0);
    const suppression = await db.send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: "steadfast-audience",
        Key: { pk: "SUPPRESSION", sk: "cy@example.com" },
      }),
    );
    expect(suppression.Item?.reason).toBe("test");
  });

  it("answers 415 for a non-JSON body, 400 for broken JSON and 413 for an oversized body", async () => {
    const id = await newList();
    const wrongType = await api.request<ErrorBody>("POST", "/v1/lists", "name=x", {
      "content-type": "text/plain",
    });
    expect([wrongType.status, wrongType.body.error.code]).toEqual([415, "unsupported_media_type"]);
    const broken = await api.request<ErrorBody>("POST", "/v1/lists", "{");
    expect([broken.status, broken.body.error.code]).toEqual([400, "invalid_json"]);
    const huge = await api.request<ErrorBody>("PUT", `/v1/lists/${id}/subscribers`, {
      subscribers: [{ email: "a@example.com", attributes: { blob: "x".repeat(1_100_000) } }],
    });
    expect([huge.status, huge.body.error.code]).toEqual([413, "payload_too_large"]);
    const method = await api.request<ErrorBody>("PUT", "/v1/lists");
    expect([method.status, method.body.error.code]).toEqual([405, "method_not_allowed"]);
  });
});

describe("CSV imports", () => {
  it("imports rows in the background, reports bad rows, and does not duplicate on re-post", async () => {
    const id = await newList("Imported");
    const rows = Array.from(
      { length: 1500 },
      (_, i) => `reader${i}@example.com,Reader ${i},"Town, ${i % 7}"`,
    );
    const csv = ["email,firstName,city", ...rows, "broken-address,X,Y", "too,many,fields,here"].join("\r\n");
    const post = () =>
      api.request<{ id: string; status: string }>("POST", `/v1/lists/${id}/imports`, csv, {
        "content-type": "text/csv",
      });
    const first = await post();
    expect(first.status).toBe(202);
    type Job = {
      status: string;
      processed: number;
      imported: number;
      rows: number;
      errors: { row: number; error: string }[];
    };
    const job = await until(
      () => api.expect<Job>(200, "GET", `/v1/imports/${first.body.id}`),
      (j) => j.status !== "running",
      60_000,
    );
    expect(job).toMatchObject({ status: "completed", rows: 1502, processed: 1502, imported: 1500 });
    expect(job.errors.map((e) => e.row)).toEqual([1501, 1502]);
    expect(await api.expect(200, "GET", `/v1/lists/${id}`)).toMatchObject({ subscriberCount: 1500 });
    const someone = await api.expect(200, "GET", `/v1/lists/${id}/subscribers/reader42@example.com`);
    expect(someone).toMatchObject({ attributes: { firstName: "Reader 42", city: "Town, 0" } });

    const again = await post();
    await until(
      () => api.expect<Job>(200, "GET", `/v1/imports/${again.body.id}`),
      (j) => j.status !== "running",
      60_000,
    );
    expect(await api.expect(200, "GET", `/v1/lists/${id}`)).toMatchObject({ subscriberCount: 1500 });
  });

  it("refuses a file without an email column, with another content type, or for an unknown list", async () => {
    const id = await newList();
    const noEmail = await api.request<ErrorBody>("POST", `/v1/lists/${id}/imports`, "name\nAna\n", {
      "content-type": "text/csv",
    });
    expect([noEmail.status, noEmail.body.error.details?.[0]?.path]).toEqual([400, "body.header"]);
    expect((await api.request("POST", `/v1/lists/${id}/imports`, { email: "a@example.com" })).status).toBe(
      415,
    );
    const unknown = await api.request(
      "POST",
      "/v1/lists/00000000-0000-0000-0000-000000000000/imports",
      "email\na@example.com\n",
      {
        "content-type": "text/csv",
      },
    );
    expect(unknown.status).toBe(404);
    expect((await api.request("GET", "/v1/imports/00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });
});

describe("campaigns", () => {
  it("edits drafts only, previews for a subscriber, rejects unknown tags and header injection", async () => {
    const listId = await newList("Campaigns");
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [
        { email: "fay@example.com", attributes: { firstName: "Fay <3" } },
        { email: "gus@example.com" },
      ],
    });
    const unknownTag = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "Hi {{firstName}}",
      html: "<p>x</p>",
    });
    expect(unknownTag.status).toBe(400);
    expect(unknownTag.body.error.details?.[0]).toEqual({
      path: "body.subject",
      message: "unknown merge tag {{firstName}}",
    });
    const injection = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "Hi",
      html: "<p>x</p>",
      replyTo: "a@example.com\r\nBcc: victim@example.com",
    });
    expect([injection.status, injection.body.error.details?.[0]?.path]).toEqual([400, "body.replyTo"]);

    const campaign = await api.expect<{ id: string; status: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: 'Hello {{attributes.firstName | "there"}}',
      html: '<p>Hi {{attributes.firstName | "there"}}</p>',
      replyTo: "support@example.com",
    });
    const patched = await api.expect(200, "PATCH", `/v1/campaigns/${campaign.id}`, {
      subject: 'Hey {{attributes.firstName | "there"}}',
      replyTo: null,
    });
    expect(patched).toMatchObject({ subject: 'Hey {{attributes.firstName | "there"}}' });
    expect(patched).not.toHaveProperty("replyTo");
    const fay = await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/preview`, {
      email: "fay@example.com",
    });
    expect(fay).toEqual({ subject: "Hey Fay <3", html: "<p>Hi Fay &lt;3</p>", text: "Hi Fay <3" });
    const gus = await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/preview`, {
      email: "gus@example.com",
    });
    expect(gus).toMatchObject({ subject: "Hey there" });
    expect(
      (await api.request("POST", `/v1/campaigns/${campaign.id}/preview`, { email: "nobody@example.com" }))
        .status,
    ).toBe(404);

    const drafts = await api.expect<{ items: { id: string; status: string }[] }>(
      200,
      "GET",
      "/v1/campaigns?status=draft",
    );
    expect(drafts.items.some((c) => c.id === campaign.id)).toBe(true);
    expect(drafts.items.every((c) => c.status === "draft")).toBe(true);

    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    const locked = await api.request<ErrorBody>("PATCH", `/v1/campaigns/${campaign.id}`, {
      subject: "Too late",
    });
    expect([locked.status, locked.body.error.code]).toEqual([409, "conflict"]);
    expect((await api.request("DELETE", `/v1/campaigns/${campaign.id}`)).status).toBe(409);
    expect((await api.request("GET", "/v1/campaigns/00000000-0000-0000-0000-000000000000")).status).toBe(404);

    const draft = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "x",
      html: "<p>x</p>",
    });
    expect((await api.request("DELETE", `/v1/campaigns/${draft.id}`)).status).toBe(204);
    expect((await api.request("GET", `/v1/campaigns/${draft.id}`)).status).toBe(404);
  });

  it("schedules a campaign on send and starts it within a scheduler tick of its time", async () => {
    const listId = await newList("Scheduled");
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: "hal@example.com" }],
    });
    const past = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "x",
      html: "<p>x</p>",
      scheduledAt: "2001-01-01T00:00:00Z",
    });
    expect([past.status, past.body.error.details?.[0]?.path]).toEqual([400, "body.scheduledAt"]);
    const at = new Date(Date.now() + 3_000).toISOString().replace("Z", "+00:00");
    const campaign = await api.expect<{ id: string; scheduledAt: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Later",
      html: "<p>Later</p>",
      scheduledAt: at,
    });
    const sent = await api.expect<{ status: string }>(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    expect(sent.status).toBe("scheduled");
    expect((await api.request("PATCH", `/v1/campaigns/${campaign.id}`, { subject: "y" })).status).toBe(409);
    const done = await until(
      () =>
        api.expect<{ status: string; counts: { sent: number } }>(200, "GET", `/v1/campaigns/${campaign.id}`),
      (c) => c.status === "sent",
      60_000,
    );
    expect(done).toMatchObject({ status: "sent", counts: { sent: 1 } });
  });

  it("cancels a scheduled campaign: it never starts, and nobody is mailed", async () => {
    const listId = await newList("Scheduled, then cancelled");
    const email = `never-${Date.now()}@example.com`;
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, { subscribers: [{ email }] });
    const at = new Date(Date.now() + 2_000).toISOString();
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Not after all",
      html: "<p>x</p>",
      scheduledAt: at,
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    const cancelled = await api.expect<{ status: string }>(
      200,
      "POST",
      `/v1/campaigns/${campaign.id}/cancel`,
    );
    expect(cancelled.status).toBe("cancelled");
    // Repeating is harmless; pausing a cancelled campaign is refused with the lifecycle's reason.
    await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/cancel`);
    const pause = await api.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/pause`);
    expect([pause.status, pause.body.error.message]).toEqual([409, "a cancelled campaign cannot be paused"]);
    // Well past its time and several scheduler ticks (1 s here): still cancelled, no recipient, no mail.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const view = await api.expect<{ status: string; counts: { total: number } }>(
      200,
      "GET",
      `/v1/campaigns/${campaign.id}`,
    );
    expect([view.status, view.counts.total]).toEqual(["cancelled", 0]);
    const mailed = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .filter((m) => m.destination.to.includes(email));
    expect(mailed).toEqual([]);
  });
});

describe("campaign owners", () => {
  /** The home region's SES throttled to nothing (a campaign stays `sending`), or every fault cleared. */
  async function throttleHomeSes(on: boolean): Promise<void> {
    const response = await fetch(`${runtime.info.controlUrl}/faults`, {
      method: on ? "POST" : "DELETE",
      headers: { "content-type": "application/json" },
      ...(on
        ? { body: JSON.stringify({ target: "ses", region: "us-east-1", mode: "throttle", ratePerSecond: 0 }) }
        : {}),
    });
    expect(response.status).toBe(204);
  }

  it("owns a campaign in the region that took the send; refuses a takeover while its lease is live, and once it finished", async () => {
    const listId = await newList("Owned");
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: `owned-${Date.now()}@example.com` }],
    });
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Owned",
      html: "<p>x</p>",
    });
    // A draft has no owner: nothing to take over.
    const draft = await api.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/takeover`);
    expect([draft.status, draft.body.error.code]).toEqual([409, "conflict"]);
    const westApi = new SteadfastClient(runtime.info.regions[1]?.apiUrl ?? "", runtime.info.apiKey);
    // While SES takes nothing the campaign keeps sending, so its owner keeps its lease: a refusal
    // for that reason, not because the one email went out already and the campaign finished.
    await throttleHomeSes(true);
    try {
      const sent = await api.expect<{ ownerRegion: string }>(
        202,
        "POST",
        `/v1/campaigns/${campaign.id}/send`,
      );
      expect(sent.ownerRegion).toBe("us-east-1");
      await until(
        () => westApi.request("GET", `/v1/campaigns/${campaign.id}`),
        (r) => r.status === 200,
      );
      const refused = await westApi.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/takeover`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/^us-east-1 owns the campaign and its lease is live until /);
      // The owner itself: already its own.
      expect(await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/takeover`)).toMatchObject({
        ownerRegion: "us-east-1",
        takenOver: false,
      });
    } finally {
      await throttleHomeSes(false);
    }
    // Sent: the owner marks the campaign finished, and no region takes over a finished campaign.
    const done = await until(
      () => api.expect<{ status: string }>(200, "GET", `/v1/campaigns/${campaign.id}`),
      (c) => c.status === "sent",
    );
    expect(done.status).toBe("sent");
    const finished = await until(
      () => westApi.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/takeover`),
      (r) => r.status !== 409 || !r.body.error.message.includes("lease is live"),
    );
    expect(finished.status).toBe(409);
    expect(finished.body.error.message).toMatch(
      /^us-east-1 finished the campaign at .*: there is nothing to take over$/,
    );
    const unknown = await api.request<ErrorBody>(
      "POST",
      "/v1/campaigns/00000000-0000-4000-8000-000000000000/takeover",
    );
    expect(unknown.status).toBe(404);
  });
});

describe("OpenAPI", () => {
  it("serves a 3.1 document whose every operation is a route the API serves", async () => {
    const doc = await api.expect<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      200,
      "GET",
      "/v1/openapi.json",
    );
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => [method.toUpperCase(), path] as const),
    );
    expect(documented.length).toBeGreaterThanOrEqual(25);
    // The router answers 404/405 before it asks for a key, so a 401 without a key proves the
    // operation is routed. (That ROUTES and the document agree exactly is a unit test.)
    const anonymous = new SteadfastClient(runtime.info.apiUrl);
    for (const [method, path] of documented) {
      const concrete = path
        .replace("{email}", "a@example.com")
        .replace(/\{\w+\}/g, "00000000-0000-0000-0000-000000000000");
      const response = await anonymous.request(method, concrete);
      // Public routes: health answers, and a mailed link (unsubscribe, preferences, confirmation)
      // with a made-up token is refused.
      const expected = path === "/health" ? 200 : /^\/[upc]\//.test(path) ? 400 : 401;
      expect(response.status, `${method} ${path}`).toBe(expected);
    }
  });
});
