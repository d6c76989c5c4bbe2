import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SteadfastClient, sesStore, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * `sendMode: "spread"`: with the home region's quota the bottleneck, a campaign also goes out
 * through the other region's SES, each region at its own rate, and every recipient still gets
 * exactly one email.
 */
let runtime: LocalRuntime;
let api: SteadfastClient;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    writeInfo: false,
    scheduleIntervalMs: 1000,
    sendMode: "spread",
    sendRate: 20,
    sesEvents: "simulator",
  });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
});

afterAll(async () => {
  await runtime?.stop();
});

describe("spread sending", () => {
  it("sends through every healthy region's SES, once per recipient", async () => {
    const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Spread" });
    await api.expect(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
      subscribers: Array.from({ length: 300 }, (_, i) => ({ email: `spread${i}@example.com` })),
    });
    const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId: list.id,
      subject: "Spread",
      html: "<p>Hello</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    const done = await waitForCampaign(api, campaign.id, 120_000);
    expect(done.counts).toMatchObject({ total: 300, sent: 300, failed: 0 });

    const byRegion = await Promise.all(
      runtime.info.regions.map(async (r) => ({ region: r.name, emails: await sesStore(r.sesUrl) })),
    );
    const perRecipient = new Map<string, number>();
    for (const { emails } of byRegion)
      for (const email of emails)
        for (const to of email.destination.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    expect(perRecipient.size).toBe(300);
    expect([...perRecipient.values()].every((n) => n === 1)).toBe(true);
    // Each region carried a real part of the campaign, at its own rate of 20/s.
    for (const { region, emails } of byRegion) expect(emails.length, region).toBeGreaterThanOrEqual(60);

    // The ledger names the region each email went through; none of them is a failover.
    const page = await api.expect<{ items: { region?: string }[] }>(
      200,
      "GET",
      `/v1/campaigns/${campaign.id}/recipients?limit=1000`,
    );
    const regions = new Set(page.items.map((item) => item.region));
    expect(regions).toEqual(new Set(runtime.info.regions.map((r) => r.name)));
  });
});
