import { gunzipSync } from "node:zlib";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sesStore, SteadfastClient, waitForCampaign, until } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/**
 * A person across every list (GET and DELETE /v1/people/{email}): the export holds what the tables
 * hold; after an erasure, no replica of either table names the address, in clear or encoded, and
 * the address is never mailed again.
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

type Person = {
  email: string;
  subscriptions: {
    listId: string;
    listName: string;
    status: string;
    attributes: Record<string, unknown>;
    consent?: { source: string };
  }[];
  deliveries: { campaignId: string; status: string; sesMessageId?: string }[];
  suppression: { email: string; reason: string } | null;
};

async function newList(name: string, emails: readonly string[]): Promise<string> {
  const id = (await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name })).id;
  await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, {
    subscribers: emails.map((email) => ({ email, attributes: { name: email.split("@")[0] ?? "" } })),
  });
  return id;
}

async function sendAndWait(listId: string, subject: string): Promise<string> {
  const { id } = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject,
    // The address itself in the content: a preview of it answers with the address.
    html: "<p>Hello {{attributes.name}}, this is for {{email}}</p>",
  });
  await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
  expect((await waitForCampaign(api, id, 90_000)).status).toBe("sent");
  return id;
}

/** Every string an item holds, with binary values un-gzipped and base64url cursors decoded. */
function texts(value: unknown): string[] {
  if (typeof value === "string") {
    const decoded = /^[A-Za-z0-9_-]{8,}$/.test(value) ? Buffer.from(value, "base64url").toString("utf8") : "";
    return [value, decoded];
  }
  if (value instanceof Uint8Array) {
    const raw = Buffer.from(value);
    try {
      return [raw.toString("utf8"), gunzipSync(raw).toString("utf8")];
    } catch {
      return [raw.toString("utf8")];
    }
  }
  if (value instanceof Set) return [...value].flatMap(texts);
  if (Array.isArray(value)) return value.flatMap(texts);
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => [k, ...texts(v)]);
  return [];
}

/** The items of both tables, in every region's replica, that name `email` anywhere. */
async function mentions(email: string): Promise<string[]> {
  const found: string[] = [];
  for (const region of runtime.info.regions) {
    const db = localDocumentClient(runtime, region.name);
    for (const table of ["steadfast-audience", "steadfast-ledger"]) {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await db.send(
          new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
        );
        for (const item of out.Items ?? [])
          if (texts(item).some((text) => text.toLowerCase().includes(email)))
            found.push(`${region.name} ${table} ${String(item.pk)} ${String(item.sk)}`);
        start = out.LastEvaluatedKey;
      } while (start);
    }
  }
  return found;
}

async function allMail() {
  return (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)))).flat();
}

describe("a person, everywhere", () => {
  it("exports what every list, the ledger and the suppression list hold, then erases it from every replica", async () => {
    const person = "dana.erase@example.com";
    const news = await newList("News", [person, "ann@example.com"]);
    const offers = await newList("Offers", [person, "bob@example.com"]);
    const campaignId = await sendAndWait(news, "Before the erasure");
    // A double opt-in list too: a confirmation campaign names the person until it has fanned out.
    const double = (
      await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Double", optIn: "double" })
    ).id;
    await api.expect(200, "PUT", `/v1/lists/${double}/subscribers`, { subscribers: [{ email: person }] });
    const confirmation = await until(
      async () =>
        (await allMail()).find((m) => m.destination.to.includes(person) && /\/c\//.test(m.body.html ?? "")),
      (found) => found !== undefined,
    );
    const confirmUrl = /href="([^"]+\/c\/[^"]+)"/.exec(confirmation?.body.html ?? "")?.[1] ?? "";
    const confirmed = await fetch(confirmUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "confirm=yes",
    });
    expect(confirmed.status).toBe(200);
    await api.expect(200, "PUT", `/v1/suppressions/${person}`, { reason: "asked by phone" });
    // The preview answers with the person's address: it must not be kept as a replay record.
    const preview = await api.request<{ html: string }>(
      "POST",
      `/v1/campaigns/${campaignId}/preview`,
      { email: person },
      { "idempotency-key": "preview-of-dana" },
    );
    expect([preview.status, preview.body.html.includes(person)]).toEqual([200, true]);

    const exported = await api.expect<Person>(200, "GET", `/v1/people/${person}`);
    expect(exported.email).toBe(person);
    expect(exported.subscriptions.map((s) => [s.listName, s.status, s.consent?.source]).sort()).toEqual([
      ["Double", "subscribed", "double-opt-in"],
      ["News", "subscribed", "api"],
      ["Offers", "subscribed", "api"],
    ]);
    expect(exported.deliveries.map((d) => d.status)).toEqual(["sent", "sent"]);
    expect(exported.deliveries.map((d) => d.campaignId)).toContain(campaignId);
    expect(exported.suppression).toMatchObject({ email: person, reason: "asked by phone" });
    expect(await mentions(person)).not.toEqual([]);

    const erased = await api.expect(200, "DELETE", `/v1/people/${person}`);
    expect(erased).toEqual({ subscriptions: 3, deliveries: 2, suppressionInClear: true });

    // Every replica of both tables, once the deletes have replicated: the address nowhere.
    expect(
      await until(
        () => mentions(person),
        (left) => left.length === 0,
      ),
    ).toEqual([]);
    const after = await api.expect<Person>(200, "GET", `/v1/people/${person}`);
    expect(after.subscriptions).toEqual([]);
    expect(after.deliveries).toEqual([]);
    expect(after.suppression?.reason).toBe("erased");
    expect(after.suppression?.email).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Repeating it is harmless.
    expect(await api.expect(200, "DELETE", `/v1/people/${person}`)).toEqual({
      subscriptions: 0,
      deliveries: 0,
      suppressionInClear: false,
    });

    // Put back on a list by a client that still had the address: a campaign skips it, records nothing.
    await api.expect(200, "PUT", `/v1/lists/${offers}/subscribers`, { subscribers: [{ email: person }] });
    const later = await sendAndWait(offers, "After the erasure");
    const sent = await allMail();
    const to = (subject: string) =>
      sent
        .filter((e) => e.subject === subject)
        .flatMap((e) => e.destination.to)
        .sort();
    expect(to("Before the erasure")).toEqual(["ann@example.com", person]);
    expect(to("After the erasure")).toEqual(["bob@example.com"]);
    const recipients = await api.expect<{ items: { email: string }[] }>(
      200,
      "GET",
      `/v1/campaigns/${later}/recipients`,
    );
    expect(recipients.items.map((r) => r.email)).toEqual(["bob@example.com"]);
  });

  it("answers 404 for an address never held, 400 naming path.email for what is not one, 403 without admin", async () => {
    expect((await api.request("DELETE", "/v1/people/never-held@example.com")).status).toBe(404);
    const bad = await api.request("GET", "/v1/people/not-an-address");
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe(
      "path.email",
    );
    const { key } = await api.expect<{ key: string }>(201, "POST", "/v1/api-keys", {
      name: "writer",
      scopes: ["read", "write"],
    });
    const writer = new SteadfastClient(runtime.info.apiUrl, key);
    expect((await writer.request("DELETE", "/v1/people/someone@example.com")).status).toBe(403);
  });
});

describe("the preference center", () => {
  const person = "pat.prefs@example.com";
  type Status = { status: string; resubscribed?: { by: string } };
  const status = (listId: string) =>
    api.expect<Status>(200, "GET", `/v1/lists/${listId}/subscribers/${person}`).then((s) => s.status);
  const post = (url: string, body: string, contentType = "application/x-www-form-urlencoded") =>
    fetch(url, { method: "POST", redirect: "manual", headers: { "content-type": contentType }, body });

  it("shows every list of the address from a mailed link, and changes two lists with one POST", async () => {
    const weekly = await newList("Weekly", [person]);
    const monthly = await newList("Monthly", [person]);
    const offers = await newList('Offers <b>"&"</b>', [person]);
    const other = await newList("Not theirs", ["someone.else@example.com"]);
    await sendAndWait(weekly, "Weekly news");
    const mail = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .find((e) => e.subject === "Weekly news" && e.destination.to.includes(person));
    const unsubscribeUrl = /href="([^"]+\/u\/[A-Za-z0-9_-]+)"/.exec(mail?.body.html ?? "")?.[1] ?? "";
    expect(unsubscribeUrl).not.toBe("");

    // The unsubscribe page links to the preference center of the same token.
    const unsubscribePage = await (await fetch(unsubscribeUrl)).text();
    const href = /href="(\.\.\/p\/[^"]+)"/.exec(unsubscribePage)?.[1] ?? "";
    const url = new URL(href, unsubscribeUrl).toString();
    expect(url).toBe(unsubscribeUrl.replace("/u/", "/p/"));

    const shown = await fetch(url);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await shown.text();
    for (const id of [weekly, monthly, offers])
      expect(html).toContain(`<input type="checkbox" name="list" value="${id}" checked>`);
    expect(html).not.toContain(other);
    expect(html).toContain("Offers &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;");
    expect(html).not.toMatch(/<b>|src=|<script|<link/i);
    // A GET changed nothing.
    expect(await Promise.all([weekly, monthly, offers].map(status))).toEqual(Array(3).fill("subscribed"));

    // Stay on Weekly only: Monthly and Offers are unsubscribed in one POST.
    const saved = await post(url, `list=${weekly}`);
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain(`value="${monthly}">`);
    expect(await Promise.all([weekly, monthly, offers].map(status))).toEqual([
      "subscribed",
      "unsubscribed",
      "unsubscribed",
    ]);
    // Switching Monthly back on is a re-subscription the person made, and is recorded as such.
    expect((await post(url, `list=${weekly}&list=${monthly}`)).status).toBe(200);
    const back = await api.expect<Status>(200, "GET", `/v1/lists/${monthly}/subscribers/${person}`);
    expect(back).toMatchObject({ status: "subscribed", resubscribed: { by: "preference-center" } });
    expect(await status(offers)).toBe("unsubscribed");

    // Refused, and nothing changed: a list they are not on, an unknown field, a forged token.
    for (const [body, path] of [
      [`list=${other}`, "body.list"],
      [`list=${weekly}&admin=1`, "body.admin"],
      ["everything=yes", "body.everything"],
    ] as const) {
      const refused = await post(url, body);
      expect(refused.status, body).toBe(400);
      const error = ((await refused.json()) as { error: { details: { path: string }[] } }).error;
      expect(error.details.map((d) => d.path)).toContain(path);
    }
    expect((await post(url, `list=${weekly}`, "application/json")).status).toBe(400);
    const forged = `${url.slice(0, -2)}${url.endsWith("AA") ? "BB" : "AA"}`;
    expect((await post(forged, "everything=1")).status).toBe(400);
    expect(await Promise.all([weekly, monthly, offers].map(status))).toEqual([
      "subscribed",
      "subscribed",
      "unsubscribed",
    ]);

    // Unsubscribe from everything: every list off, and the address on the suppression list.
    expect((await post(url, "everything=1")).status).toBe(200);
    expect(await Promise.all([weekly, monthly, offers].map(status))).toEqual(Array(3).fill("unsubscribed"));
    const exported = await api.expect<Person>(200, "GET", `/v1/people/${person}`);
    expect(exported.suppression?.reason).toMatch(/everything/);
  });
});
