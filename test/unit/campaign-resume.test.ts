import { describe, expect, it } from "vitest";
import type { StoredCampaign } from "../../lambdas/adapters/campaign-items.ts";
import type { QueueMessage, SendMessage } from "../../lambdas/contracts/messages.ts";
import { fakeOwnership } from "./ownership-fakes.ts";
import { type ResumeDeps, resumeCampaign } from "../../lambdas/usecases/campaign-workflows.ts";

/** A paused campaign with `held` recipients waiting `queued` in a ledger listed `pageSize` at a time. */
function fixture(held: number, pageSize: number) {
  let campaign = { id: "c1", listId: "l1", status: "paused", fanoutDone: true } as StoredCampaign;
  const emails = Array.from({ length: held }, (_, i) => `r${i}@example.com`);
  const sent: QueueMessage[] = [];
  const deps: ResumeDeps = {
    campaigns: {
      get: async () => campaign,
      transition: async (_id, action) => {
        if (action !== "resume" || campaign.status !== "paused") return undefined;
        campaign = { ...campaign, status: "sending" };
        return campaign;
      },
    },
    ledger: {
      list: async (_id, status, _limit, cursor) => {
        expect(status).toBe("queued");
        const from = Number(cursor ?? 0);
        const items = emails
          .slice(from, from + pageSize)
          .map((email) => ({ campaignId: "c1", email, status: "queued" as const, attempts: 0 }));
        const next = from + pageSize;
        return next < emails.length ? { items, nextCursor: String(next) } : { items };
      },
    },
    subscribers: {
      subscribersOf: async (_listId, wanted) =>
        wanted.map((email) => ({ email, attributes: { n: email } })) as never,
    },
    queue: {
      sendAll: async (_url, bodies) => {
        sent.push(...bodies);
      },
    },
    sendQueueUrl: "https://sqs.local/send",
    agenda: { markActive: async () => {} },
    ownership: fakeOwnership({ region: "us-east-1" }).ownership,
  };
  return { deps, sent };
}

const requeued = (sent: QueueMessage[]) =>
  sent.flatMap((body) => (body as SendMessage).recipients.map((r) => r.email));

describe("resumeCampaign", () => {
  it("enqueues every held recipient again, page by page", async () => {
    const { deps, sent } = fixture(1_234, 500);
    const outcome = await resumeCampaign(deps, "c1", new Date(), 60_000);
    expect(outcome.kind).toBe("applied");
    expect(outcome.recipientsRequeued).toBe(1_234);
    expect(new Set(requeued(sent)).size).toBe(1_234);
    expect(sent.every((body) => (body as SendMessage).campaignId === "c1")).toBe(true);
  });

  it("enqueues nothing when the campaign is not paused (a repeated resume)", async () => {
    const { deps, sent } = fixture(10, 500);
    await resumeCampaign(deps, "c1", new Date(), 60_000);
    sent.length = 0;
    const again = await resumeCampaign(deps, "c1", new Date(), 60_000);
    expect(again.kind).toBe("already");
    expect(sent).toEqual([]);
  });
});
