import { DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SubscriberStore } from "../../lambdas/adapters/subscriber-store.ts";
import { SteadfastClient, until } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/** Deleted lists stay deleted, opt-outs stay opted out, and erasure reaches the delivery ledger. */
let runtime: LocalRuntime;
let api: SteadfastClient;
let db: DynamoDBDocumentClient;
let subscribers: SubscriberStore;

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

async function newList(name: string, emails: readonly string[] = []): Promise<string> {
  const id = (await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name })).id;
  if (emails.length > 0)
    await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
      subscribers: emails.map((email) => ({ email })),
    });
  return id;
}

async function sendAndWait(listId: string): Promise<string> {
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject: "Hello",
    html: "<p>Hello</p>",
  });
  await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
  const done = await until(
    () => api.expect<{ status: string }>(200, "GET", `/v1/campaigns/${campaign.id}`),
    (c) => c.status === "sent",
  );
  expect(done.status).toBe("sent");
  return campaign.id;
}

/** Every ledger item that mentions `email` anywhere, read with a consistent scan of the whole table. */
async function ledgerMentions(email: string): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new ScanCommand({ TableName: "steadfast-ledger", ExclusiveStartKey: start, ConsistentRead: true }),
    );
    found.push(...(out.Items ?? []).filter((item) => JSON.stringify(item).includes(email)));
    start = out.LastEvaluatedKey;
  } while (start);
  return found;
}

async function erasureFinished(listId: string): Promise<boolean> {
  const out = await db.send(
    new GetCommand({
      TableName: "steadfast-audience",
      Key: { pk: "ERASURE", sk: listId },
      ConsistentRead: true,
    }),
  );
  return out.Item === undefined;
}

describe("a deleted list", () => {
  it("keeps no subscriber written while its deletion ran, and answers 404 for its subscribers", async () => {
    const listId = await newList("Deleted under a write", ["first@example.com"]);
    expect((await api.request("DELETE", `/v1/lists/${listId}`)).status).toBe(204);
    expect(await until(() => erasureFinished(listId), Boolean)).toBe(true);

    // A write (PUT /subscribers or an import chunk) that checked the list just before the deletion
    // lands after its erasure has finished: the store sees the list gone and erases the rows again.
    const { kept } = await subscribers.upsert(
      listId,
      [{ email: "late@example.com", attributes: {} }],
      new Date().toISOString(),
      { consent: { source: "api", at: new Date().toISOString() } },
    );
    expect(kept).toBe(false);
    expect(await subscribers.get(listId, "late@example.com")).toBeUndefined();

    // Items not erased yet are unreadable and unchangeable at once.
    await db.send(
      new PutCommand({
        TableName: "steadfast-audience",
        Item: {
          pk: `LIST#${listId}`,
          sk: "SUB#left@example.com",
          type: "subscriber",
          email: "left@example.com",
          status: "subscribed",
          attributes: {},
        },
      }),
    );
    const read = await api.request<ErrorBody>("GET", `/v1/lists/${listId}/subscribers/left@example.com`);
    expect([read.status, read.body.error.message]).toEqual([404, "list not found"]);
    const patch = await api.request<ErrorBody>("PATCH", `/v1/lists/${listId}/subscribers/left@example.com`, {
      attributes: { a: "b" },
    });
    expect([patch.status, patch.body.error.message]).toEqual([404, "list not found"]);
    const put = await api.request("PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: "new@example.com" }],
    });
    expect(put.status).toBe(404);
  });

  it("cannot be deleted while a campaign is on its way to it (409 naming the campaign)", async () => {
    const emails = Array.from({ length: 300 }, (_, i) => `busy${i}@example.com`);
    const listId = await newList("Busy", emails);
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Busy",
      html: "<p>Busy</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/pause`);

    const refused = await api.request<ErrorBody>("DELETE", `/v1/lists/${listId}`);
    expect([refused.status, refused.body.error.code]).toEqual([409, "conflict"]);
    expect(refused.body.error.message).toContain(campaign.id);
    expect((await api.request("GET", `/v1/lists/${listId}`)).status).toBe(200);

    await api.expect(200, "POST", `/v1/campaigns/${campaign.id}/cancel`);
    expect((await api.request("DELETE", `/v1/lists/${listId}`)).status).toBe(204);
  });
});

describe("an opt-out", () => {
  it("is kept unless the request says the person opted in again, which is recorded", async () => {
    const writer = await api.expect<{ id: string; key: string }>(201, "POST", "/v1/api-keys", {
      name: "crm",
      scopes: ["write"],
    });
    const crm = new SteadfastClient(runtime.info.apiUrl, writer.key);
    const listId = await newList("Opt-outs", ["gone@example.com", "hard@example.com"]);
    await crm.expect(200, "PATCH", `/v1/lists/${listId}/subscribers/gone@example.com`, {
      status: "unsubscribed",
    });
    await subscribers.markFeedback(listId, "hard@example.com", "bounced", new Date().toISOString());

    for (const [email, status] of [
      ["gone@example.com", "unsubscribed"],
      ["hard@example.com", "bounced"],
    ] as const) {
      const refused = await crm.request<ErrorBody>("PATCH", `/v1/lists/${listId}/subscribers/${email}`, {
        status: "subscribed",
        attributes: { firstName: "X" },
      });
      expect([refused.status, refused.body.error.code]).toEqual([409, "conflict"]);
      expect(refused.body.error.message).toContain(status);
      expect(await subscribers.get(listId, email)).toMatchObject({ status, attributes: {} });
    }

    // Re-posting the address (PUT or an import) updates attributes and keeps the opt-out.
    await crm.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
      subscribers: [{ email: "gone@example.com", attributes: { firstName: "Gone" } }],
    });
    expect(await subscribers.get(listId, "gone@example.com")).toMatchObject({ status: "unsubscribed" });

    const misplaced = await crm.request<ErrorBody>(
      "PATCH",
      `/v1/lists/${listId}/subscribers/gone@example.com`,
      {
        status: "unsubscribed",
        resubscribe: { consent: "signed up again" },
      },
    );
    expect([misplaced.status, misplaced.body.error.details?.[0]?.path]).toEqual([400, "body.resubscribe"]);

    const back = await crm.expect<Record<string, unknown>>(
      200,
      "PATCH",
      `/v1/lists/${listId}/subscribers/gone@example.com`,
      { status: "subscribed", resubscribe: { consent: "signed up again on the web form" } },
    );
    expect(back).toMatchObject({
      status: "subscribed",
      resubscribed: { by: writer.id, consent: "signed up again on the web form" },
    });
    expect(Date.parse((back.resubscribed as { at: string }).at)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe("erasure reaches the ledger", () => {
  it("deleting a subscriber erases their ledger items of the list's campaigns; erasing a list, the rest", async () => {
    const person = `success+erase${Date.now()}@simulator.amazonses.com`;
    const other = `success+stays${Date.now()}@simulator.amazonses.com`;
    const listA = await newList("Erase A", [person, other]);
    const listB = await newList("Erase B", [person]);
    await sendAndWait(listA);
    const campaignB = await sendAndWait(listB);
    expect((await ledgerMentions(person)).length).toBe(2);

    expect(
      (await api.request("DELETE", `/v1/lists/${listA}/subscribers/${encodeURIComponent(person)}`)).status,
    ).toBe(204);
    // Erased from list A: nothing of campaign A mentions them; list B's campaign keeps its item.
    const left = await ledgerMentions(person);
    expect(left.map((item) => item.campaignId)).toEqual([campaignB]);
    expect((await ledgerMentions(other)).length).toBe(1);

    expect((await api.request("DELETE", `/v1/lists/${listB}`)).status).toBe(204);
    expect(await until(() => erasureFinished(listB), Boolean)).toBe(true);
    expect(await ledgerMentions(person)).toEqual([]);
    expect((await ledgerMentions(other)).length).toBe(1);
  });
});
