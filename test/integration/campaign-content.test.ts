import { execFile } from "node:child_process";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { campaignContentKey, campaignKey } from "../../lambdas/adapters/dynamo/keys.ts";
import { sesStore, SteadfastClient, until, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/**
 * A campaign's content lives in an item of its own, written while it is a draft; its control item
 * (status, owner, checkpoint), written at every step of the send, stays small however large the
 * content.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;
let db: DynamoDBDocumentClient;

type ErrorBody = { error: { code: string; message: string; details?: { path: string; message: string }[] } };

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, scheduleIntervalMs: 1000 });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  db = localDocumentClient(runtime);
});

afterAll(async () => {
  await runtime?.stop();
});

async function newList(name: string, emails: readonly string[] = []): Promise<string> {
  const { id } = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name });
  if (emails.length)
    await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
      subscribers: emails.map((email) => ({ email })),
    });
  return id;
}

const item = async (key: { pk: string; sk: string }) =>
  (await db.send(new GetCommand({ TableName: "steadfast-audience", Key: key, ConsistentRead: true }))).Item;

describe("campaign content", () => {
  it("stores any content it accepts, and answers 413 naming html above 300 KB, changing nothing", async () => {
    const listId = await newList("Big content");
    // 420 KB of html: under the JSON body limit, over what one DynamoDB item can hold.
    const tooBig = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "Big",
      html: `<p>${"é".repeat(215 * 1024)}</p>`,
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe("payload_too_large");
    expect(tooBig.body.error.details?.[0]?.path).toBe("body.html");
    const html = `<p>${"x".repeat(290 * 1024)}</p>`;
    const created = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Big",
      html,
    });
    const stored = await api.expect<{ html: string }>(200, "GET", `/v1/campaigns/${created.id}`);
    expect(stored.html).toBe(html);
    // A text part that would push the total over is refused, and the draft keeps what it had.
    const patch = await api.request<ErrorBody>("PATCH", `/v1/campaigns/${created.id}`, {
      text: "y".repeat(20 * 1024),
    });
    expect(patch.status).toBe(413);
    const after = await api.expect<{ html: string; text?: string }>(
      200,
      "GET",
      `/v1/campaigns/${created.id}`,
    );
    expect([after.html === html, after.text]).toEqual([true, undefined]);
  });

  it("keeps content apart from the control item: edits, lists, sends and deletes the two together", async () => {
    const emails = ["big-1@example.com", "big-2@example.com", "big-3@example.com"];
    const listId = await newList("Content apart", emails);
    const html = `<p>{{email}} ${"z".repeat(250 * 1024)}</p>`;
    const { id } = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "First",
      html: "<p>first</p>",
      text: "first",
    });
    // One PATCH that changes content (html, subject), clears a content field (text) and sets a
    // control field (replyTo): all of it applies.
    const patched = await api.expect<Record<string, unknown>>(200, "PATCH", `/v1/campaigns/${id}`, {
      subject: "Second",
      html,
      text: null,
      replyTo: "replies@example.com",
    });
    expect([patched.subject, patched.html === html, patched.text, patched.replyTo]).toEqual([
      "Second",
      true,
      undefined,
      "replies@example.com",
    ]);
    const listed = await api.expect<{ items: { id: string; html: string; subject: string }[] }>(
      200,
      "GET",
      "/v1/campaigns?limit=5",
    );
    const shown = listed.items.find((c) => c.id === id);
    expect([shown?.subject, shown?.html === html]).toEqual(["Second", true]);

    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    await waitForCampaign(api, id, 30_000);
    const control = await item(campaignKey(id));
    const content = await item(campaignContentKey(id));
    expect(control?.status).toBe("sent");
    expect([control?.html, control?.subject]).toEqual([undefined, undefined]);
    expect(JSON.stringify(control).length).toBeLessThan(2_048);
    expect(content?.html).toBe(html);
    const mailed = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .filter((m) => emails.some((email) => m.destination.to.includes(email)));
    expect(mailed.map((m) => m.subject)).toEqual(["Second", "Second", "Second"]);
    expect(mailed.every((m) => m.body.html?.includes("z".repeat(1024)))).toBe(true);

    const draft = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Gone",
      html: "<p>gone</p>",
    });
    expect((await api.request("DELETE", `/v1/campaigns/${draft.id}`)).status).toBe(204);
    expect([await item(campaignKey(draft.id)), await item(campaignContentKey(draft.id))]).toEqual([
      undefined,
      undefined,
    ]);
  });
});

type TemplateView = {
  id: string;
  name: string;
  latestVersion: number;
  homeRegion: string;
  content: { version: number; subject: string; html: string };
};
type CampaignView = {
  id: string;
  subject: string;
  html: string;
  templateId?: string;
  templateVersion?: number;
};

describe("templates", () => {
  it("keep every version as it was written; a campaign keeps the version it was made from", async () => {
    const created = await api.expect<TemplateView>(201, "POST", "/v1/templates", {
      name: "Newsletter",
      subject: "News for {{email}}",
      html: "<p>Version one, {{attributes.name}}</p>",
    });
    expect(created).toMatchObject({ name: "Newsletter", latestVersion: 1, content: { version: 1 } });
    expect(created.homeRegion).toBe(runtime.info.regions[0]?.name);
    // An unknown merge tag is refused, as in a campaign, and adds no version.
    const bad = await api.request<ErrorBody>("POST", `/v1/templates/${created.id}/versions`, {
      subject: "S",
      html: "<p>{{nope}}</p>",
    });
    expect([bad.status, bad.body.error.details?.[0]?.path]).toEqual([400, "body.html"]);

    const listId = await newList("Templated", ["t1@example.com", "t2@example.com"]);
    const sent = await api.expect<CampaignView>(201, "POST", "/v1/campaigns", {
      listId,
      templateId: created.id,
    });
    expect(sent).toMatchObject({
      templateId: created.id,
      templateVersion: 1,
      html: "<p>Version one, {{attributes.name}}</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${sent.id}/send`);
    await waitForCampaign(api, sent.id, 60_000);

    const v2 = await api.expect<{ version: number }>(201, "POST", `/v1/templates/${created.id}/versions`, {
      subject: "News, second edition",
      html: "<p>Version two</p>",
    });
    expect(v2.version).toBe(2);
    // Another region's API adds no version (one writer per item): 409 naming the home region.
    const other = runtime.info.regions[1];
    if (!other) throw new Error("the local runtime has two regions");
    const elsewhere = new SteadfastClient(other.apiUrl, runtime.info.apiKey);
    const refusedThere = await until(
      () =>
        elsewhere.request<ErrorBody>("POST", `/v1/templates/${created.id}/versions`, {
          subject: "S",
          html: "<p>3</p>",
        }),
      (r) => r.status !== 404,
      10_000,
    );
    expect([refusedThere.status, refusedThere.body.error.message]).toEqual([
      409,
      expect.stringContaining(created.homeRegion),
    ]);
    // The sent campaign is as it was; version 1 is as it was; a new campaign takes version 2, or 1 when asked.
    expect(await api.expect<CampaignView>(200, "GET", `/v1/campaigns/${sent.id}`)).toMatchObject({
      templateVersion: 1,
      html: "<p>Version one, {{attributes.name}}</p>",
    });
    expect(await api.expect(200, "GET", `/v1/templates/${created.id}/versions/1`)).toMatchObject({
      subject: "News for {{email}}",
      html: "<p>Version one, {{attributes.name}}</p>",
    });
    expect(await api.expect(200, "GET", `/v1/templates/${created.id}`)).toMatchObject({
      latestVersion: 2,
      content: { version: 2, html: "<p>Version two</p>" },
    });
    const next = await api.expect<CampaignView>(201, "POST", "/v1/campaigns", {
      listId,
      templateId: created.id,
      subject: "Own subject",
    });
    expect(next).toMatchObject({ templateVersion: 2, subject: "Own subject", html: "<p>Version two</p>" });
    const pinned = await api.expect<CampaignView>(201, "POST", "/v1/campaigns", {
      listId,
      templateId: created.id,
      templateVersion: 1,
    });
    expect(pinned.subject).toBe("News for {{email}}");
    const mailed = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .filter((m) => m.subject.startsWith("News for"));
    expect(mailed.map((m) => m.destination.to[0]).sort()).toEqual(["t1@example.com", "t2@example.com"]);

    // Refused, creating nothing: a template that does not exist, a version it does not have,
    // template and html together.
    for (const [body, path] of [
      [{ listId, templateId: "nope" }, "body.templateId"],
      [{ listId, templateId: created.id, templateVersion: 9 }, "body.templateVersion"],
      [{ listId, templateId: created.id, html: "<p>x</p>" }, "body.html"],
      [{ listId, subject: "S" }, "body.html"],
    ] as const) {
      const refused = await api.request<ErrorBody>("POST", "/v1/campaigns", body);
      expect([refused.status, refused.body.error.details?.[0]?.path], JSON.stringify(body)).toEqual([
        400,
        path,
      ]);
    }
    expect((await api.request("GET", `/v1/templates/${created.id}/versions/3`)).status).toBe(404);
    const page = await api.expect<{ items: { id: string }[] }>(200, "GET", "/v1/templates?limit=10");
    expect(page.items.map((t) => t.id)).toContain(created.id);
  });
});

describe("test sends", () => {
  it("mail the campaign now, marked as a test, outside its ledger and counters, skipping suppressed addresses", async () => {
    const listId = await newList("Tested", ["member@example.com"]);
    await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: "member@example.com", attributes: { name: "Ada" } }],
    });
    await api.expect(200, "PUT", "/v1/suppressions/blocked@example.com", { reason: "test" });
    const campaign = await api.expect<CampaignView>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Launch for {{attributes.name}}",
      html: "<p>Hello</p>",
    });
    const answer = await api.expect<{ queued: number; skipped: { index: number }[] }>(
      202,
      "POST",
      `/v1/campaigns/${campaign.id}/test`,
      { emails: ["member@example.com", "blocked@example.com", "outsider@example.com"] },
    );
    expect(answer).toEqual({ queued: 2, skipped: [{ index: 1, reason: "suppressed" }] });
    const tests = async () =>
      (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
        .flat()
        .filter((m) => m.subject.startsWith("[Test] Launch"));
    const deadline = Date.now() + 30_000;
    while ((await tests()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const mailed = await tests();
    expect(mailed.map((m) => [m.destination.to[0], m.subject]).sort()).toEqual([
      ["member@example.com", "[Test] Launch for Ada"],
      ["outsider@example.com", "[Test] Launch for "],
    ]);
    // Still a draft, with no recipient in its ledger and nothing counted.
    const view = await api.expect<{
      status: string;
      counts?: { total: number };
      feedback?: { sent: number };
    }>(200, "GET", `/v1/campaigns/${campaign.id}`);
    expect(view.status).toBe("draft");
    expect(view.counts?.total ?? 0).toBe(0);
    expect(view.feedback?.sent ?? 0).toBe(0);
    const { items } = await api.expect<{ items: unknown[] }>(
      200,
      "GET",
      `/v1/campaigns/${campaign.id}/recipients`,
    );
    expect(items).toEqual([]);

    for (const [body, path] of [
      [{ emails: [] }, "body.emails"],
      [{ emails: Array.from({ length: 11 }, (_, i) => `a${i}@example.com`) }, "body.emails"],
      [{ emails: ["not-an-address"] }, "body.emails.0"],
    ] as const) {
      const refused = await api.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/test`, body);
      expect([refused.status, refused.body.error.details?.[0]?.path]).toEqual([400, path]);
    }
    expect((await api.request("POST", "/v1/campaigns/nope/test", { emails: ["a@example.com"] })).status).toBe(
      404,
    );
  });
});

describe("the steadfast command", () => {
  /** Runs `npx steadfast …` against this runtime: its exit code and what it printed. */
  const steadfast = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(
        "npx",
        ["steadfast", ...args],
        {
          env: { ...process.env, STEADFAST_URL: runtime.info.apiUrl, STEADFAST_API_KEY: runtime.info.apiKey },
        },
        (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }),
      );
    });

  it("drives a campaign from create to sent, watching it with a progress bar", async () => {
    const listId = await newList("Command line", ["c1@example.com", "c2@example.com", "c3@example.com"]);
    const created = await steadfast(
      "campaigns",
      "create",
      "--list",
      listId,
      "--subject",
      "From the command line",
      "--html",
      "<p>Hi {{email}}</p>",
    );
    expect(created.code, created.err).toBe(0);
    const { id } = JSON.parse(created.out) as { id: string };
    expect((await steadfast("campaigns", "send", id)).code).toBe(0);
    const watched = await steadfast("campaigns", "watch", id, "--interval", "200");
    expect(watched.code, watched.err).toBe(0);
    const lines = watched.out.trim().split("\n");
    expect(lines.at(-1)).toMatch(
      /^\[#{30}\] 3\/3 {2}sent 3 {2}failed 0 {2}suppressed 0 {2}[\d.]+\/s {2}sent$/,
    );
    const mailed = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .filter((m) => m.subject === "From the command line");
    expect(mailed.map((m) => m.destination.to[0]).sort()).toEqual([
      "c1@example.com",
      "c2@example.com",
      "c3@example.com",
    ]);

    // An API error is the API's message and exit code 1; a usage error is exit code 2.
    const missing = await steadfast("campaigns", "get", "nope");
    expect([missing.code, missing.err]).toEqual([1, expect.stringContaining("404 not_found")]);
    expect((await steadfast("campaigns", "create")).code).toBe(2);
  });
});
