import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlFaults, sesStore, SteadfastClient, until, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * What recipients did with a campaign, on the local runtime: opens and clicks published as SES
 * events through the feedback queue (duplicated, out of order, some by machines), and the link and
 * timeline reports read from the ledger.
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

type Recipient = { email: string; sesMessageId: string; status: string };
interface Injected {
  readonly type: "Open" | "Click";
  readonly at: string;
  readonly link?: string;
  readonly userAgent?: string;
  readonly ipAddress?: string;
}

/** Publishes one SES event for a message through the local SES's feedback path. */
async function inject(sesMessageId: string, event: Injected): Promise<void> {
  const response = await fetch(`${runtime.info.controlUrl}/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sesMessageId, ...event }),
  });
  expect(response.status).toBe(202);
}

/** Sends a campaign to `emails` on a new list and answers its id and recipients by address. */
async function sentCampaign(name: string, emails: readonly string[], beforeSend?: () => Promise<void>) {
  const { id: listId } = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name });
  await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
    subscribers: emails.map((email) => ({ email })),
  });
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject: name,
    html: '<p><a href="https://example.com/a">A</a> <a href="https://example.com/b">B</a></p>',
  });
  await beforeSend?.();
  await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
  await waitForCampaign(api, campaign.id, 60_000);
  const { items } = await api.expect<{ items: Recipient[] }>(
    200,
    "GET",
    `/v1/campaigns/${campaign.id}/recipients`,
  );
  return { id: campaign.id, messageOf: new Map(items.map((r) => [r.email, r.sesMessageId])) };
}

const A = "https://example.com/a";
const B = "https://example.com/b";
const C = "https://example.com/c";
const HOUR = "2030-01-01T10";
const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

describe("campaign reports", () => {
  it("count links and hours exactly under duplicated, out-of-order and machine-made opens and clicks", async () => {
    const emails = ["human@example.com", "scanned@example.com", "proxied@example.com", "burst@example.com"];
    const { id, messageOf } = await sentCampaign("Reports", emails);
    const of = (email: string) => messageOf.get(email) as string;
    const script: [string, Injected][] = [
      // A person: opens, clicks A (the click published twice), then B; the click on B comes first.
      ["human@example.com", { type: "Click", at: `${HOUR}:30:00.000Z`, link: B, userAgent: PHONE }],
      ["human@example.com", { type: "Open", at: `${HOUR}:10:00.000Z`, userAgent: PHONE }],
      ["human@example.com", { type: "Click", at: `${HOUR}:20:00.000Z`, link: A, userAgent: PHONE }],
      ["human@example.com", { type: "Click", at: `${HOUR}:20:00.000Z`, link: A, userAgent: PHONE }],
      // A link scanner's user agent.
      [
        "scanned@example.com",
        { type: "Click", at: `${HOUR}:05:00.000Z`, link: A, userAgent: "Barracuda Sentinel (EE)" },
      ],
      // A mail-privacy proxy's open.
      [
        "proxied@example.com",
        { type: "Open", at: `${HOUR}:01:00.000Z`, userAgent: "Mozilla/5.0", ipAddress: "17.58.1.2" },
      ],
      // Every link clicked within a second: a machine, whatever its user agent says.
      ["burst@example.com", { type: "Click", at: `${HOUR}:02:00.100Z`, link: A, userAgent: PHONE }],
      ["burst@example.com", { type: "Click", at: `${HOUR}:02:00.300Z`, link: B, userAgent: PHONE }],
      ["burst@example.com", { type: "Click", at: `${HOUR}:02:00.500Z`, link: C, userAgent: PHONE }],
    ];
    for (const [email, event] of script) await inject(of(email), event);

    type Links = {
      links: { link: string; total: number; unique: number; human: number; uniqueHuman: number }[];
    };
    const expected = [
      { link: A, total: 3, unique: 3, human: 1, uniqueHuman: 1 },
      { link: B, total: 2, unique: 2, human: 1, uniqueHuman: 1 },
      { link: C, total: 1, unique: 1, human: 0, uniqueHuman: 0 },
    ];
    const read = () => api.expect<Links>(200, "GET", `/v1/campaigns/${id}/links`);
    const links = await until(read, (v) => JSON.stringify(v.links) === JSON.stringify(expected), 30_000);
    expect(links).toEqual({ campaignId: id, links: expected });

    // The same events once more, in reverse, then one new open in the next hour: once that one
    // shows, the copies before it have been through the queue, and changed nothing.
    type Hour = Record<string, number> & { hour: string };
    const timelineOf = () => api.expect<{ hours: Hour[] }>(200, "GET", `/v1/campaigns/${id}/timeline`);
    for (const [email, event] of [...script].reverse()) await inject(of(email), event);
    await inject(of("scanned@example.com"), {
      type: "Open",
      at: "2030-01-01T11:00:00.000Z",
      userAgent: PHONE,
    });
    const later = await until(
      timelineOf,
      (v) => v.hours.some((h) => h.hour.startsWith("2030-01-01T11")),
      30_000,
    );
    expect(later.hours.find((h) => h.hour.startsWith("2030-01-01T11"))?.opened).toBe(1);
    expect((await read()).links).toEqual(expected);

    const { hours } = await timelineOf();
    expect(hours.find((h) => h.hour === `${HOUR}:00:00.000Z`)).toEqual({
      hour: `${HOUR}:00:00.000Z`,
      sent: 0,
      delivered: 0,
      bounced: 0,
      complained: 0,
      opened: 1,
      clicked: 1,
      machineOpens: 1,
      machineClicks: 4,
    });
    // Every recipient was sent and delivered (the local SES publishes Send and Delivery) in the
    // hours of the send.
    const total = (name: string) => hours.reduce((sum, h) => sum + (h[name] ?? 0), 0);
    expect([total("sent"), total("delivered")]).toEqual([emails.length, emails.length]);
  });

  it("answer 404 for a campaign that does not exist, and 400 for a query parameter", async () => {
    for (const report of ["links", "timeline"]) {
      const missing = await api.request<{ error: { code: string } }>("GET", `/v1/campaigns/nope/${report}`);
      expect([missing.status, missing.body.error.code]).toEqual([404, "not_found"]);
    }
    const { id } = await sentCampaign("Reports 2", ["one@example.com"]);
    const refused = await api.request<{ error: { details: { path: string }[] } }>(
      "GET",
      `/v1/campaigns/${id}/links?limit=5`,
    );
    expect([refused.status, refused.body.error.details[0]?.path]).toEqual([400, "query.limit"]);
  });
});

type ErrorBody = { error: { code: string; details?: { path: string }[] } };
type CampaignView = { id: string; status: string; followUp?: object; subject: string };

/** What the SES emulators of every region accepted for a subject, by address. */
async function mailedFor(subject: string): Promise<string[]> {
  const stores = await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)));
  return stores
    .flat()
    .filter((m) => m.subject === subject)
    .flatMap((m) => m.destination.to)
    .sort();
}

describe("follow-ups", () => {
  it("reach exactly the recipients SES rejected, once, and those who did not open, machines' opens aside", async () => {
    const ok = ["ok1@example.com", "ok2@example.com", "ok3@example.com"];
    const rejected = ["rej1@example.com", "rej2@example.com", "rej3@example.com"];
    const { id, messageOf } = await sentCampaign("Parent", [...ok, ...rejected], () =>
      controlFaults(runtime.info.controlUrl, "POST", {
        target: "ses",
        mode: "error",
        error: "MessageRejected",
        recipients: rejected,
      }),
    );
    await controlFaults(runtime.info.controlUrl, "DELETE");
    const { items } = await api.expect<{ items: Recipient[] }>(200, "GET", `/v1/campaigns/${id}/recipients`);
    expect(
      items
        .filter((r) => r.status === "failed")
        .map((r) => r.email)
        .sort(),
    ).toEqual(rejected);

    // Refused, creating nothing: a link with an audience that has none, an unknown audience, a
    // campaign that does not exist, a draft.
    const bad = await api.request<ErrorBody>("POST", `/v1/campaigns/${id}/follow-up`, {
      audience: "failed",
      link: A,
    });
    expect([bad.status, bad.body.error.details?.[0]?.path]).toEqual([400, "body.link"]);
    const unknown = await api.request<ErrorBody>("POST", `/v1/campaigns/${id}/follow-up`, {
      audience: "everyone",
    });
    expect([unknown.status, unknown.body.error.details?.[0]?.path]).toEqual([400, "body.audience"]);
    expect((await api.request("POST", "/v1/campaigns/nope/follow-up", { audience: "failed" })).status).toBe(
      404,
    );

    const retry = await api.expect<CampaignView>(201, "POST", `/v1/campaigns/${id}/follow-up`, {
      audience: "failed",
      subject: "Parent, again",
    });
    expect(retry).toMatchObject({ status: "draft", followUp: { campaignId: id, audience: "failed" } });
    const draftParent = await api.request<ErrorBody>("POST", `/v1/campaigns/${retry.id}/follow-up`, {
      audience: "failed",
    });
    expect(draftParent.status).toBe(409);
    await api.expect(202, "POST", `/v1/campaigns/${retry.id}/send`);
    await waitForCampaign(api, retry.id, 60_000);
    expect(await mailedFor("Parent, again")).toEqual(rejected);

    // ok1 opened (a person); ok2's only open is Apple's privacy proxy; ok3 did nothing.
    await inject(messageOf.get("ok1@example.com") as string, {
      type: "Open",
      at: `${HOUR}:00:00.000Z`,
      userAgent: PHONE,
    });
    await inject(messageOf.get("ok2@example.com") as string, {
      type: "Open",
      at: `${HOUR}:00:00.000Z`,
      userAgent: "Mozilla/5.0",
      ipAddress: "17.58.1.2",
    });
    await until(
      () =>
        api.expect<{ hours: { machineOpens: number; opened: number }[] }>(
          200,
          "GET",
          `/v1/campaigns/${id}/timeline`,
        ),
      (v) => v.hours.reduce((n, h) => n + h.machineOpens + h.opened, 0) === 2,
      30_000,
    );
    const nudge = await api.expect<CampaignView>(201, "POST", `/v1/campaigns/${id}/follow-up`, {
      audience: "not_opened",
      subject: "Did you see this?",
      html: "<p>In case you missed it</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${nudge.id}/send`);
    await waitForCampaign(api, nudge.id, 60_000);
    expect(await mailedFor("Did you see this?")).toEqual(["ok2@example.com", "ok3@example.com"]);

    // A follow-up's content may come from a template's version.
    const template = await api.expect<{ id: string }>(201, "POST", "/v1/templates", {
      name: "Nudge",
      subject: "From a template",
      html: "<p>T</p>",
    });
    const templated = await api.expect<CampaignView & { html: string; templateId?: string }>(
      201,
      "POST",
      `/v1/campaigns/${id}/follow-up`,
      { audience: "clicked", templateId: template.id },
    );
    expect(templated).toMatchObject({
      subject: "From a template",
      html: "<p>T</p>",
      templateId: template.id,
      followUp: { campaignId: id, audience: "clicked" },
    });
  });
});
