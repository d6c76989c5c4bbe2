import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { sesStore, SteadfastClient } from "../../local/client.ts";
import { LOCAL_CREDENTIALS } from "../../local/local-account.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * The chaos harness: a local runtime for each chaos file (they run side by side), on the production
 * timings: what a sender crash leaves behind (its claims' leases, its batch's invisible messages)
 * comes back after 30 s and 121 s, retries are capped at 60 s, the breaker cools down for 5 s. Only
 * the scheduler ticks every second, the fan-out reads smaller pages in smaller slices (below), and
 * a file that loses a region may shorten the owner's lease (`ownerLeaseSeconds`).
 */
export async function startChaosRuntime(
  options: { coordination?: "auto" | "none"; ownerLeaseSeconds?: number } = {},
): Promise<Chaos> {
  const runtime = await startLocalRuntime({
    ...options,
    // Logs of its own: the chaos files run side by side, and metricSum reads a runtime's metrics.
    logDir: join(process.cwd(), ".steadfast", "logs", `chaos-${process.pid}-${Date.now()}`),
    writeInfo: false,
    // No SES events for ordinary addresses: the scenarios judge the ledger and the SES stores, and
    // feedback work for every email would only slow them.
    sesEvents: "simulator",
    sendRate: 200,
    scheduleIntervalMs: 1000,
    environment: {
      // Pages of 50 in slices of 200: a campaign of 600 is written by 3 workers side by side.
      fanout: { FANOUT_PAGE_SIZE: "50", FANOUT_SLICE_SIZE: "200" },
    },
  });
  return new Chaos(runtime);
}

export interface Recipient {
  email: string;
  status: string;
  region?: string;
  sesMessageId?: string;
}

interface Counts {
  total: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  suppressed: number;
  cancelled: number;
}

export interface CampaignState {
  status: string;
  counts: Counts;
}

export interface CampaignRun {
  readonly id: string;
  readonly emails: string[];
}

export class Chaos {
  readonly api: SteadfastClient;
  readonly sqs: SQSClient;

  constructor(readonly runtime: LocalRuntime) {
    this.api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    this.sqs = new SQSClient({
      region: "us-east-1",
      endpoint: runtime.endpoints.sqs,
      credentials: LOCAL_CREDENTIALS,
      useQueueUrlAsEndpoint: false,
    });
  }

  async fault(body: Record<string, unknown>): Promise<void> {
    const response = await fetch(`${this.runtime.info.controlUrl}/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(204);
  }

  async heal(): Promise<void> {
    const response = await fetch(`${this.runtime.info.controlUrl}/faults`, { method: "DELETE" });
    expect(response.status).toBe(204);
  }

  async crash(fn: string, region = "us-east-1"): Promise<number> {
    const response = await fetch(`${this.runtime.info.controlUrl}/crash`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ function: fn, region }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { killedInvocations: number }).killedInvocations;
  }

  /** The API of one region (the harness's `api` is the home region's). */
  apiOf(region: string): SteadfastClient {
    const found = this.runtime.info.regions.find((r) => r.name === region);
    if (!found) throw new Error(`no region ${region}`);
    return new SteadfastClient(found.apiUrl, this.runtime.info.apiKey);
  }

  /**
   * Creates a list of `n` subscribers tagged `tag` and a campaign to it; sends it unless told not
   * to. `address` names the i-th recipient (mailbox-simulator addresses make SES publish events).
   */
  async campaign(
    tag: string,
    n: number,
    send = true,
    options: { address?: (i: number) => string; scheduledAt?: string } = {},
  ): Promise<CampaignRun> {
    const list = await this.setup<{ id: string }>(201, "POST", "/v1/lists", { name: tag });
    const address = options.address ?? ((i: number) => `${tag}-${i}@chaos.example.net`);
    const emails = Array.from({ length: n }, (_, i) => address(i));
    for (let i = 0; i < n; i += 250) {
      await this.setup(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
        subscribers: emails.slice(i, i + 250).map((email) => ({ email })),
      });
    }
    const campaign = await this.setup<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId: list.id,
      subject: `Chaos ${tag}`,
      html: "<p>Hello {{email}}</p>",
      ...(options.scheduledAt ? { scheduledAt: options.scheduledAt } : {}),
    });
    if (send) await this.setup(202, "POST", `/v1/campaigns/${campaign.id}/send`);
    return { id: campaign.id, emails };
  }

  /**
   * A call that sets a scenario up, retried on 503 as a client should (the chaos files run side by
   * side, and a function may still be starting), under one Idempotency-Key so that it applies once.
   * Nothing a scenario measures goes through here.
   */
  private async setup<T = Record<string, unknown>>(
    status: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const key = { "idempotency-key": randomUUID() };
    for (let attempt = 1; ; attempt++) {
      const response = await this.api.request<T>(method, path, body, method === "POST" ? key : {});
      if (response.status === status) return response.body;
      if (response.status !== 503 || attempt === 5)
        throw new Error(
          `${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
        );
      await new Promise((r) => setTimeout(r, 1_000 * attempt));
    }
  }

  /** The campaign as the API reports it; undefined while the API itself is failing (a fault). */
  async status(id: string): Promise<CampaignState | undefined> {
    const response = await this.api.request<CampaignState>("GET", `/v1/campaigns/${id}`);
    return response.status === 200 ? response.body : undefined;
  }

  async waitFor(
    id: string,
    predicate: (c: CampaignState) => boolean,
    timeoutMs: number,
  ): Promise<CampaignState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const campaign = await this.status(id);
      if (campaign && predicate(campaign)) return campaign;
      if (Date.now() > deadline)
        throw new Error(`campaign ${id}: condition not met; last ${JSON.stringify(campaign)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The campaign's recipients as one region's replica holds them (the home region's by default). */
  async recipients(id: string, region?: string): Promise<Recipient[]> {
    const api = region ? this.apiOf(region) : this.api;
    const items: Recipient[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.expect<{ items: Recipient[]; nextCursor?: string }>(
        200,
        "GET",
        `/v1/campaigns/${id}/recipients?limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  /** How many messages each of `emails` received, across the SES emulators of every region (or of `only`). */
  async deliveries(emails: readonly string[], only?: string): Promise<Map<string, number>> {
    const wanted = new Set(emails);
    const counts = new Map<string, number>();
    for (const region of this.runtime.info.regions) {
      if (only && region.name !== only) continue;
      for (const message of await sesStore(region.sesUrl)) {
        for (const to of message.destination.to) {
          if (wanted.has(to)) counts.set(to, (counts.get(to) ?? 0) + 1);
        }
      }
    }
    return counts;
  }

  /**
   * The suite's invariants for one campaign: every recipient in the ledger and terminal, every
   * `sent` recipient in the SES stores exactly once (or at most `allowedDuplicates` extra in all),
   * nobody else in them. Returns the recipients, the number of duplicates seen and the deliveries counted.
   */
  async verify(
    run: CampaignRun,
    allowedDuplicates = 0,
  ): Promise<{ recipients: Recipient[]; duplicates: number; deliveries: Map<string, number> }> {
    const recipients = await this.recipients(run.id);
    expect(recipients.map((r) => r.email).sort()).toEqual([...run.emails].sort());
    const notTerminal = recipients.filter(
      (r) => !["sent", "failed", "suppressed", "cancelled"].includes(r.status),
    );
    expect(notTerminal).toEqual([]);
    const deliveries = await this.deliveries(run.emails);
    let duplicates = 0;
    for (const r of recipients) {
      const count = deliveries.get(r.email) ?? 0;
      if (r.status === "sent") {
        expect(count, `${r.email} delivered`).toBeGreaterThanOrEqual(1);
        expect(r.sesMessageId).toBeTruthy();
        duplicates += count - 1;
      } else {
        expect(count, `${r.email} is ${r.status} yet was delivered`).toBe(0);
      }
    }
    expect(duplicates).toBeLessThanOrEqual(allowedDuplicates);
    return { recipients, duplicates, deliveries };
  }

  /**
   * The cross-region duplicate bound, read while `lost` is down and before anyone took its campaign
   * over: the emails `lost`'s SES holds for `run` that `survivor`'s replica does not show `sent`.
   * These are what the lost region had in flight plus what it sent within the replication lag at
   * that moment, and the only recipients the survivor cannot know were sent.
   */
  async unseenSends(run: CampaignRun, lost: string, survivor: string): Promise<Set<string>> {
    const seen = new Set(
      (await this.recipients(run.id, survivor)).filter((r) => r.status === "sent").map((r) => r.email),
    );
    const sentByLost = await this.deliveries(run.emails, lost);
    return new Set([...sentByLost.keys()].filter((email) => !seen.has(email)));
  }

  /**
   * `verify` after a region was lost and its campaign taken over: a recipient got a second email
   * only if it is one of `unseen` (see `unseenSends`), and nobody got a third.
   */
  async verifyRegionLoss(
    run: CampaignRun,
    unseen: ReadonlySet<string>,
  ): Promise<{ recipients: Recipient[]; duplicates: number }> {
    const result = await this.verify(run, unseen.size);
    const twice = [...result.deliveries].filter(([, count]) => count > 1);
    const beyond = twice.filter(([email, count]) => !unseen.has(email) || count > 2);
    expect(beyond, "sent again although the survivor's replica showed it sent").toEqual([]);
    return result;
  }

  /** Every email the SES emulators of all regions (or of `only`) hold for `emails`. */
  async delivered(emails: readonly string[], only?: string): Promise<number> {
    return [...(await this.deliveries(emails, only)).values()].reduce((a, b) => a + b, 0);
  }

  /** The sum of one metric the functions `role` of `region` emitted so far (their EMF log lines). */
  metricSum(role: string, region: string, metric: string): number {
    let sum = 0;
    for (const line of this.logLines(role, region)) {
      if (!line.includes(`"${metric}"`)) continue;
      try {
        const value = (JSON.parse(line) as Record<string, unknown>)[metric];
        sum += Array.isArray(value) ? value.reduce((a: number, b) => a + Number(b), 0) : Number(value ?? 0);
      } catch {
        // not a metrics line
      }
    }
    return sum;
  }

  /** How many log lines the functions `role` of `region` wrote that contain `text` (a campaign id, say). */
  logLinesWith(role: string, region: string, text: string): number {
    return this.logLines(role, region).filter((line) => line.includes(text)).length;
  }

  /** The log lines the functions `role` of `region` wrote so far (none while none ran). */
  private logLines(role: string, region: string): string[] {
    const path = join(this.runtime.logDir, `${role}-${region}.log`);
    return existsSync(path) ? readFileSync(path, "utf8").split("\n") : [];
  }

  /** Puts a raw message on a region's send queue, as a redelivery or a stray producer would. */
  async putOnSendQueue(body: string, region = "us-east-1"): Promise<void> {
    const queue = this.sendQueueUrl(region);
    await this.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: body }));
  }

  sendQueueUrl(region = "us-east-1"): string {
    const regionRuntime = this.runtime.regions.find((r) => r.name === region);
    const entry = [...(regionRuntime?.queues.entries() ?? [])].find(
      ([id]) => id.startsWith("SendQueue") && !id.includes("DeadLetter"),
    );
    if (!entry) throw new Error("send queue not found");
    return entry[1].url;
  }
}
