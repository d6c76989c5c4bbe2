import type { ClaimResult, LedgerItem } from "../../lambdas/adapters/ledger-items.ts";
import type { OutgoingEmail, SendOutcome } from "../../lambdas/adapters/ses-sender.ts";
import type { Campaign } from "../../lambdas/domain/campaign.ts";
import { TokenBucket } from "../../lambdas/domain/token-bucket.ts";
import { Delivery } from "../../lambdas/sender/deliver.ts";
import type { DeliveryEvent } from "../../lambdas/sender/delivery-contract.ts";

/** Fakes at the sender's boundaries for the Delivery tests: a ledger in memory, SES, a clock. */
const campaign: Campaign = {
  id: "c1",
  listId: "l1",
  from: "news@example.com",
  subject: "Hi {{attributes.name}}",
  html: "<p>{{attributes.name}}</p>",
  status: "sending",
  createdAt: "",
  updatedAt: "",
};

/** An in-memory ledger with the same conditional transitions as the DynamoDB one. */
class MemoryLedger {
  readonly items = new Map<string, LedgerItem & { leaseUntil?: number; claimId?: string }>();
  failCompleteTimes = 0;
  /** Every complete fails until this time (epoch ms, real time). */
  failCompleteUntil = 0;

  async createQueued(campaignId: string, emails: readonly string[]) {
    for (const email of emails)
      if (!this.items.has(email)) this.items.set(email, { campaignId, email, status: "queued", attempts: 0 });
    return emails.length;
  }

  async claim(_c: string, email: string, now: number, leaseMs: number): Promise<ClaimResult> {
    const item = this.items.get(email);
    if (!item) return { claimed: false };
    const reclaimable = item.status === "sending" && (item.leaseUntil ?? 0) < now;
    if (item.status !== "queued" && !reclaimable) return { claimed: false, current: item };
    const next = {
      ...item,
      status: "sending" as const,
      attempts: item.attempts + 1,
      leaseUntil: now + leaseMs,
      claimId: `claim-${email}-${item.attempts + 1}`,
    };
    this.items.set(email, next);
    return { claimed: true, claimId: next.claimId, attempt: next.attempts };
  }

  async eraseRecipient(_c: string, email: string) {
    this.items.delete(email);
  }

  async cancel(_c: string, email: string) {
    const item = this.items.get(email);
    if (item?.status !== "queued") return false;
    this.items.set(email, { ...item, status: "cancelled", reason: "campaign cancelled" });
    return true;
  }

  async complete(
    _c: string,
    email: string,
    claimId: string,
    outcome: { status: string; sesMessageId?: string; error?: string },
  ) {
    if (this.failCompleteTimes > 0 || Date.now() < this.failCompleteUntil) {
      this.failCompleteTimes = Math.max(0, this.failCompleteTimes - 1);
      throw Object.assign(new Error("throttled"), { name: "ThrottlingException" });
    }
    const item = this.items.get(email);
    if (item?.status !== "sending" || item.claimId !== claimId) return false;
    this.items.set(email, { ...item, ...outcome, status: outcome.status as LedgerItem["status"] });
    return true;
  }
}

export function setup(
  outcome: (email: OutgoingEmail) => SendOutcome,
  status: Campaign["status"] = "sending",
  fanoutDone = false,
  clock = { now: 1_000_000, perSendMs: 0 },
  sendRate = 1e9,
  suppressionReasons?: (emails: readonly string[]) => Map<string, string>,
) {
  const ledger = new MemoryLedger();
  const sent: OutgoingEmail[] = [];
  const paused: { campaignId: string; reason: string }[] = [];
  const events: DeliveryEvent[] = [];
  // The SES pool's pacing on the test's clock: a reserve waits by moving the clock on.
  const bucket = new TokenBucket(
    sendRate,
    1,
    () => clock.now,
    async (ms) => {
      clock.now += ms;
    },
  );
  const delivery = new Delivery({
    campaigns: {
      get: async (id) => (id === campaign.id ? { ...campaign, status, fanoutDone } : undefined),
      // The control items only, as the store reads them: the sender keeps the content it read first.
      getControl: async (id) => {
        if (id !== campaign.id) return undefined;
        const { subject: _s, html: _h, text: _t, ...control } = { ...campaign, status, fanoutDone };
        return control;
      },
    },
    owner: async () => "act",
    ledger,
    ses: {
      reserve: async (until) =>
        (await bucket.takeBefore(until)) ? { region: "us-east-1", spent: false } : undefined,
      release: (permit) => {
        if (!permit.spent) bucket.giveBack();
        permit.spent = true;
      },
      send: async (email, permit) => {
        if (permit) permit.spent = true;
        sent.push(email);
        clock.now += clock.perSendMs;
        return outcome(email);
      },
    },
    now: () => clock.now,
    leaseMs: 60_000,
    claimReserveMs: 5_000,
    parallelism: 4,
    pause: async (campaignId, reason) => void paused.push({ campaignId, reason }),
    onEvent: (event) => events.push(event),
    ...(suppressionReasons ? { suppressionReasons: async (_c, emails) => suppressionReasons(emails) } : {}),
  });
  return { ledger, sent, delivery, paused, events };
}

export const ok = (): SendOutcome => ({
  ok: true,
  region: "us-east-1",
  messageId: `m-${Math.random()}`,
  failedOver: false,
});
export const recipients = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ email: `r${i}@example.com`, attributes: { name: `R${i}` } }));
