import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignAgendaStore } from "../../lambdas/adapters/campaign-agenda-store.ts";
import { CampaignStore } from "../../lambdas/adapters/campaign-store.ts";
import { ledgerKey } from "../../lambdas/adapters/dynamo/keys.ts";
import { LedgerStore } from "../../lambdas/adapters/ledger-store.ts";
import { SteadfastClient, sesStore, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/**
 * The whole pipeline on the local emulators, through the real SDK clients: API → fan-out queue →
 * fanout function → send queue → sender function → SES, recorded in the ledger.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    writeInfo: false,
    scheduleIntervalMs: 1000,
    // Small slices and pages: a list of 200 is cut into 4 slices, written side by side, page by page.
    environment: { fanout: { FANOUT_SLICE_SIZE: "60", FANOUT_PAGE_SIZE: "25" } },
  });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

describe("a first campaign, end to end", () => {
  it("delivers one email to each of 200 subscribers and records every one as sent", async () => {
    const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Integration" });
    const subscribers = Array.from({ length: 200 }, (_, i) => ({
      email: `reader${i}@Example.COM`,
      attributes: { firstName: `Reader <${i}>` },
    }));
    const upsert = await api.expect<{ upserted: number; rejected: unknown[] }>(
      200,
      "PUT",
      `/v1/lists/${list.id}/subscribers`,
      { subscribers },
    );
    expect(upsert).toEqual({ upserted: 200, rejected: [] });

    const campaign = await api.expect<{ id: string; status: string }>(201, "POST", "/v1/campaigns", {
      listId: list.id,
      from: "news@example.com",
      subject: "Hello {{attributes.firstName}}",
      html: "<p>Hi {{attributes.firstName}}, this is for {{email}}</p>",
    });
    expect(campaign.status).toBe("draft");

    expect((await api.request("POST", `/v1/campaigns/${campaign.id}/send`)).status).toBe(202);
    // Calling send again changes nothing.
    expect((await api.request("POST", `/v1/campaigns/${campaign.id}/send`)).status).toBe(202);

    const done = await waitForCampaign(api, campaign.id, 120_000);
    expect(done.counts).toMatchObject({ total: 200, sent: 200, queued: 0, sending: 0, failed: 0 });
    const control = await new CampaignStore(localDocumentClient(runtime), "steadfast-audience").get(
      campaign.id,
      true,
    );
    expect([control?.fanoutSlices, control?.fanoutRead, control?.fanoutDone]).toEqual([4, true, true]);

    const emails = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)))).flat();
    const perRecipient = new Map<string, number>();
    for (const email of emails)
      for (const to of email.destination.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    expect(perRecipient.size).toBe(200);
    expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
    expect(perRecipient.has("reader7@example.com")).toBe(true);

    // Merge tags: escaped in HTML, as-is in the subject and the generated text part.
    const seventh = emails.find((e) => e.destination.to[0] === "reader7@example.com");
    expect(seventh?.subject).toBe("Hello Reader <7>");
    // Followed by the unsubscribe link the template lacks (see the deliverability tests).
    expect(seventh?.body.html).toMatch(
      /^<p>Hi Reader &lt;7&gt;, this is for reader7@example\.com<\/p>\n<p[^>]*>.*<a href="http:\/\/127\.0\.0\.1:\d+\/u\/[\w-]+">Unsubscribe<\/a>/,
    );
    expect(seventh?.body.text).toMatch(
      /^Hi Reader <7>, this is for reader7@example\.com\n\n.*Unsubscribe \(http:/,
    );

    const items: { status: string; sesMessageId?: string; region?: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.expect<{ items: typeof items; nextCursor?: string }>(
        200,
        "GET",
        `/v1/campaigns/${campaign.id}/recipients?limit=70${cursor ? `&cursor=${cursor}` : ""}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(items).toHaveLength(200);
    // Through the home region, unless a call to its SES failed (a busy machine can time one out):
    // then that recipient failed over, as it should, and the ledger says where it went.
    const regions = runtime.info.regions.map((r) => r.name);
    expect(
      items.every((i) => i.status === "sent" && i.sesMessageId && regions.includes(i.region ?? "")),
    ).toBe(true);
    expect(items.filter((i) => i.region !== "us-east-1").length).toBeLessThanOrEqual(5);
    expect(new Set(items.map((i) => i.sesMessageId)).size).toBe(200);
  });

  it("answers health without a key and refuses the API without one", async () => {
    const anonymous = new SteadfastClient(runtime.info.apiUrl);
    expect((await anonymous.request("GET", "/health")).status).toBe(200);
    const refused = await anonymous.request<{ error: { code: string } }>("POST", "/v1/lists", { name: "x" });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("unauthorized");
  });

  it("serves every region's API from the same global tables, replicated within seconds", async () => {
    const secondary = runtime.info.regions[1];
    expect(secondary).toBeDefined();
    const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Replicated" });
    const west = new SteadfastClient(secondary?.apiUrl as string, runtime.info.apiKey);
    // A global table replicates asynchronously (about a second): the list reaches the other region.
    await eventually(async () => (await west.request("GET", `/v1/lists/${list.id}`)).status === 200);
    const upsert = await west.expect<{ upserted: number }>(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
      subscribers: [{ email: "west@example.com" }],
    });
    expect(upsert.upserted).toBe(1);
    // And what the other region wrote comes back.
    await eventually(
      async () =>
        (await api.request("GET", `/v1/lists/${list.id}/subscribers/west%40example.com`)).status === 200,
    );
  });

  it("completes a campaign nobody polls (the scheduler watches sending campaigns)", async () => {
    const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Unwatched" });
    await api.expect(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
      subscribers: Array.from({ length: 20 }, (_, i) => ({ email: `quiet${i}@example.com` })),
    });
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId: list.id,
      subject: "Quiet",
      html: "<p>Hello</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    const db = localDocumentClient(runtime);
    const campaigns = new CampaignStore(db, "steadfast-audience");
    const agenda = new CampaignAgendaStore(db, "steadfast-audience");
    let stored = await campaigns.get(campaign.id, true);
    for (let i = 0; i < 120 && stored?.status !== "sent"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      stored = await campaigns.get(campaign.id, true);
    }
    expect(stored?.status).toBe("sent");
    expect(stored?.finalCounts).toMatchObject({ total: 20, sent: 20 });
    // The watch marks the campaign sent, then takes it off the agenda: a moment apart.
    let active = await agenda.listActive();
    for (let i = 0; i < 40 && active.includes(campaign.id); i++) {
      await new Promise((r) => setTimeout(r, 250));
      active = await agenda.listActive();
    }
    expect(active).not.toContain(campaign.id);
    // The API shows the campaign, not the pipeline's bookkeeping (fan-out lease, watch marks).
    const shown = await api.expect<Record<string, unknown>>(200, "GET", `/v1/campaigns/${campaign.id}`);
    expect(Object.keys(shown).sort()).toEqual([
      "completedAt",
      "counts",
      "createdAt",
      "feedback",
      "from",
      "html",
      "id",
      "listId",
      "ownerRegion",
      "sendRequestedAt",
      "status",
      "subject",
      "updatedAt",
    ]);
    // Sent through the home region's API: that region owns it.
    expect(shown.ownerRegion).toBe("us-east-1");
  });

  it("counts AWS requests and SES acceptances per region on the control API", async () => {
    const stats = (await (await fetch(`${runtime.info.controlUrl}/stats`)).json()) as {
      requests: Record<string, Record<string, Record<string, number>>>;
      sesAccepted: Record<string, number>;
    };
    // The two campaigns above (200 + 20), through the home region save a failover or two.
    const accepted = Object.values(stats.sesAccepted).reduce((a, b) => a + b, 0);
    expect(accepted).toBeGreaterThanOrEqual(220);
    expect(stats.sesAccepted["us-east-1"]).toBeGreaterThanOrEqual(215);
    // Two conditional ledger updates per recipient: the claim, and the record of the send.
    expect(stats.requests.dynamodb?.UpdateItem?.["us-east-1"]).toBeGreaterThanOrEqual(440);
  });

  it("a claim refused under a live lease names the holder's state, so the sender retries rather than skips", async () => {
    // DynamoDB Local returns the item a failed condition found; the document client leaves it in
    // wire form. Read as "not sending", the recipient was skipped and stayed `sending` for good.
    const ledger = new LedgerStore(localDocumentClient(runtime), "steadfast-ledger");
    const now = Date.now();
    await ledger.createQueued("lease-check", ["held@example.com"], now);
    expect(await ledger.claim("lease-check", "held@example.com", now, 30_000)).toMatchObject({
      claimed: true,
      attempt: 1,
    });
    const second = await ledger.claim("lease-check", "held@example.com", now + 1_000, 30_000);
    expect(second.claimed).toBe(false);
    expect(second.claimed ? undefined : second.current).toMatchObject({
      status: "sending",
      attempts: 1,
      email: "held@example.com",
    });
  });

  it("records an outcome only for the claim that holds the recipient, even when two claims count the same attempt", async () => {
    // Two replicas that each saw the item `queued` both count attempt 1. Here the second claim is
    // made on an item put back to `queued`, as a replica that had not seen the first claim holds it.
    const db = localDocumentClient(runtime);
    const ledger = new LedgerStore(db, "steadfast-ledger");
    const now = Date.now();
    await ledger.createQueued("claim-fence", ["twice@example.com"], now);
    const first = await ledger.claim("claim-fence", "twice@example.com", now, 30_000);
    const key = ledgerKey("claim-fence", "twice@example.com");
    await db.send(
      new UpdateCommand({
        TableName: "steadfast-ledger",
        Key: key,
        UpdateExpression: "SET #status = :queued, attempts = :zero REMOVE leaseUntil, claimId",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":queued": "queued", ":zero": 0 },
      }),
    );
    const second = await ledger.claim("claim-fence", "twice@example.com", now + 10, 30_000);
    if (!first.claimed || !second.claimed) throw new Error("both claims should have been taken");
    expect([first.attempt, second.attempt]).toEqual([1, 1]);
    const sent = { status: "sent" as const, region: "us-east-1", sesMessageId: "m-1" };
    expect(await ledger.complete("claim-fence", "twice@example.com", first.claimId, sent, now + 20)).toBe(
      false,
    );
    expect(await ledger.complete("claim-fence", "twice@example.com", second.claimId, sent, now + 30)).toBe(
      true,
    );
  });
});

/** Polls `check` until it holds (10 s at most): for what reaches another region by replication. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("not replicated within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}
