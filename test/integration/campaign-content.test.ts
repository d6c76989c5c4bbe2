import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { campaignContentKey, campaignKey } from "../../lambdas/adapters/dynamo/keys.ts";
import { sesStore, SteadfastClient, waitForCampaign } from "../../local/client.ts";
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
