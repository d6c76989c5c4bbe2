import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sesStore, SteadfastClient, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * Saved segments on the local runtime: the rule language at the API's edge, previews, and a
 * segmented campaign with excluded lists and segments, checked against what the SES emulators got.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;

type ErrorBody = { error: { code: string; message: string; details?: { path: string; message: string }[] } };
type SegmentView = { id: string; name: string; version: number; rule: unknown };

beforeAll(async () => {
  runtime = await startLocalRuntime({
    writeInfo: false,
    scheduleIntervalMs: 1000,
    // Slices and pages smaller than the list: the segment applies in every slice.
    environment: { fanout: { FANOUT_SLICE_SIZE: "25", FANOUT_PAGE_SIZE: "10" } },
  });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

async function newList(name: string, subscribers: { email: string; attributes?: object }[]): Promise<string> {
  const { id } = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name });
  await api.expect(200, "PUT", `/v1/lists/${id}/subscribers`, { subscribers });
  return id;
}

const newSegment = (name: string, rule: unknown) =>
  api.expect<SegmentView>(201, "POST", "/v1/segments", { name, rule });

describe("saved segments", () => {
  it("are created, read, changed one version up, listed and deleted; an invalid tree is a 400 naming its node", async () => {
    const rule = { all: [{ attribute: "plan", op: "eq", value: "pro" }, { status: "subscribed" }] };
    const created = await newSegment("Pro", rule);
    expect(created).toMatchObject({ name: "Pro", version: 1, rule });
    expect(await api.expect(200, "GET", `/v1/segments/${created.id}`)).toEqual(created);

    const changed = await api.expect<SegmentView>(200, "PATCH", `/v1/segments/${created.id}`, {
      rule: { any: [rule, { subscribedAt: { after: "2026-01-01" } }] },
    });
    expect(changed.version).toBe(2);
    const page = await api.expect<{ items: SegmentView[] }>(200, "GET", "/v1/segments?limit=100");
    expect(page.items.map((s) => s.id)).toContain(created.id);

    const bad = await api.request<ErrorBody>("POST", "/v1/segments", {
      name: "Bad",
      rule: { all: [{ status: "subscribed" }, { any: [{ attribute: "plan", op: "like", value: "x" }] }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details?.[0]?.path).toBe("body.rule.all.1.any.0.op");
    const noValue = await api.request<ErrorBody>("PATCH", `/v1/segments/${created.id}`, {
      rule: { not: { attribute: "plan", op: "gt" } },
    });
    expect([noValue.status, noValue.body.error.details?.[0]?.path]).toEqual([400, "body.rule.not.value"]);
    // The refused change changed nothing.
    expect((await api.expect<SegmentView>(200, "GET", `/v1/segments/${created.id}`)).version).toBe(2);

    expect((await api.request("DELETE", `/v1/segments/${created.id}`)).status).toBe(204);
    expect((await api.request("GET", `/v1/segments/${created.id}`)).status).toBe(404);
  });

  it("sends a segmented campaign to exactly the matching subscribers, none on an excluded list or segment", async () => {
    const people = Array.from({ length: 60 }, (_, i) => ({
      email: `seg${String(i).padStart(2, "0")}@example.com`,
      attributes: { plan: i % 2 === 0 ? "pro" : "free", city: i % 3 === 0 ? "Paris" : "Lyon", seats: i },
    }));
    const listId = await newList("Segmented", people);
    // Three pro addresses that unsubscribed: never recipients.
    for (const email of ["seg02@example.com", "seg04@example.com", "seg08@example.com"])
      await api.expect(200, "PATCH", `/v1/lists/${listId}/subscribers/${email}`, { status: "unsubscribed" });
    const vips = ["seg10@example.com", "seg14@example.com", "seg16@example.com"];
    const excludedList = await newList("Already told", [
      ...vips.map((email) => ({ email })),
      { email: "other@example.com" },
    ]);
    const pro = await newSegment("Pro with seats", {
      all: [
        { attribute: "plan", op: "eq", value: "pro" },
        { attribute: "seats", op: "gte", value: 2 },
      ],
    });
    const paris = await newSegment("Paris", { attribute: "city", op: "eq", value: "Paris" });

    const expected = people
      .filter((p, i) => p.attributes.plan === "pro" && i >= 2 && p.attributes.city !== "Paris")
      .map((p) => p.email)
      .filter(
        (email) => !["seg02@example.com", "seg04@example.com", "seg08@example.com", ...vips].includes(email),
      );

    const preview = await api.expect<{ count: number; sample: string[] }>(
      200,
      "POST",
      `/v1/segments/${pro.id}/preview`,
      { listId },
    );
    // Pro with 2 seats or more, subscribed: 29 pro addresses from seg02 on, 3 of them unsubscribed.
    expect(preview.count).toBe(26);
    expect(preview.sample).toEqual(
      ["06", "10", "12", "14", "16", "18", "20", "22", "24", "26"].map((n) => `seg${n}@example.com`),
    );

    const refused = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "S",
      html: "<p>S</p>",
      excludeListIds: [listId],
    });
    expect([refused.status, refused.body.error.details?.[0]?.path]).toEqual([400, "body.excludeListIds.0"]);
    const unknown = await api.request<ErrorBody>("POST", "/v1/campaigns", {
      listId,
      subject: "S",
      html: "<p>S</p>",
      segmentId: "no-such-segment",
    });
    expect([unknown.status, unknown.body.error.details?.[0]?.path]).toEqual([400, "body.segmentId"]);

    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "For some",
      html: "<p>Hello {{email}}</p>",
      segmentId: pro.id,
      excludeListIds: [excludedList],
      excludeSegmentIds: [paris.id],
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    const done = await waitForCampaign(api, campaign.id, 120_000);
    expect(done.counts).toMatchObject({ total: expected.length, sent: expected.length });

    const emails = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)))).flat();
    const got = emails
      .filter((e) => e.subject === "For some")
      .flatMap((e) => e.destination.to)
      .sort();
    expect(got).toEqual([...expected].sort());

    // The campaign keeps the versions it was sent with; a later change to a segment is not its.
    await api.expect(200, "PATCH", `/v1/segments/${pro.id}`, { name: "Pro, renamed" });
    const shown = await api.expect<{ segmentId: string; segmentVersions: Record<string, number> }>(
      200,
      "GET",
      `/v1/campaigns/${campaign.id}`,
    );
    expect(shown).toMatchObject({ segmentId: pro.id, segmentVersions: { [pro.id]: 1, [paris.id]: 1 } });
  });

  it("refuses to send a draft whose segment was deleted, and sends nothing", async () => {
    const listId = await newList("Gone", [{ email: "gone@example.com", attributes: { plan: "pro" } }]);
    const segment = await newSegment("Soon gone", { attribute: "plan", op: "eq", value: "pro" });
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Never",
      html: "<p>Never</p>",
      segmentId: segment.id,
    });
    await api.expect(204, "DELETE", `/v1/segments/${segment.id}`);
    const refused = await api.request<ErrorBody>("POST", `/v1/campaigns/${campaign.id}/send`);
    expect([refused.status, refused.body.error.code]).toEqual([409, "conflict"]);
    expect((await api.expect<{ status: string }>(200, "GET", `/v1/campaigns/${campaign.id}`)).status).toBe(
      "draft",
    );
  });

  it("reads engagement from the ledger: opened one campaign, not opened it, clicked any in the last days", async () => {
    const people = ["eng-a", "eng-b", "eng-c", "eng-d"].map((n) => `${n}@example.com`);
    const listId = await newList(
      "Engagement",
      people.map((email) => ({ email })),
    );
    const first = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "First",
      html: "<p>First</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${first.id}/send`);
    await waitForCampaign(api, first.id, 60_000);
    const recipients = await api.expect<{ items: { email: string; sesMessageId: string }[] }>(
      200,
      "GET",
      `/v1/campaigns/${first.id}/recipients`,
    );
    const messageOf = new Map(recipients.items.map((r) => [r.email, r.sesMessageId]));
    // a and c open the first campaign; c also clicks it.
    for (const [email, type] of [
      ["eng-a@example.com", "Open"],
      ["eng-c@example.com", "Open"],
      ["eng-c@example.com", "Click"],
    ] as const) {
      const response = await fetch(`${runtime.info.controlUrl}/feedback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // A click within 10 s of the send is a scanner's: these are a person's, a minute later.
        body: JSON.stringify({
          sesMessageId: messageOf.get(email),
          type,
          at: new Date(Date.now() + 60_000).toISOString(),
        }),
      });
      expect(response.status).toBe(202);
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const view = await api.expect<{ feedback?: { opened?: number; clicked?: number } }>(
        200,
        "GET",
        `/v1/campaigns/${first.id}`,
      );
      if ((view.feedback?.opened === 2 && view.feedback.clicked === 1) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }

    const preview = async (rule: unknown) => {
      const segment = await newSegment("Engaged", rule);
      const result = await api.expect<{ count: number; sample: string[] }>(
        200,
        "POST",
        `/v1/segments/${segment.id}/preview`,
        { listId },
      );
      return { segment, ...result };
    };
    expect((await preview({ engagement: "opened", campaignId: first.id })).sample).toEqual([
      "eng-a@example.com",
      "eng-c@example.com",
    ]);
    expect((await preview({ engagement: "clicked", withinDays: 7 })).sample).toEqual(["eng-c@example.com"]);
    expect((await preview({ engagement: "received", campaignId: first.id })).count).toBe(4);
    const notOpened = await preview({ not: { engagement: "opened", campaignId: first.id } });
    expect(notOpened.sample).toEqual(["eng-b@example.com", "eng-d@example.com"]);

    // A follow-up to who did not open: exactly them, checked against what SES got.
    const second = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Did you miss it?",
      html: "<p>Again</p>",
      segmentId: notOpened.segment.id,
    });
    await api.expect(202, "POST", `/v1/campaigns/${second.id}/send`);
    await waitForCampaign(api, second.id, 60_000);
    const got = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl))))
      .flat()
      .filter((e) => e.subject === "Did you miss it?")
      .flatMap((e) => e.destination.to)
      .sort();
    expect(got).toEqual(["eng-b@example.com", "eng-d@example.com"]);

    const bad = await api.request<ErrorBody>("POST", "/v1/segments", {
      name: "Bad",
      rule: { any: [{ engagement: "opened", withinDays: 0 }] },
    });
    expect([bad.status, bad.body.error.details?.[0]?.path]).toEqual([400, "body.rule.any.0.withinDays"]);
  });
});
