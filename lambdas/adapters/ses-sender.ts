import { GetAccountCommand, type SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { type BreakerState, CircuitBreaker } from "../domain/circuit-breaker.ts";
import { RateController } from "../domain/rate-controller.ts";
import { CAMPAIGN_TAG, TEST_SEND_TAG } from "../contracts/events.ts";
import { classifySesError, type SesErrorClass } from "../domain/ses-errors.ts";
import { within } from "../shared/concurrency.ts";

export interface OutgoingEmail {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly campaignId: string;
  /** A test send: tagged so that its events stay outside the campaign's ledger and counters. */
  readonly test?: true;
  readonly replyTo?: string;
  readonly headers?: readonly { name: string; value: string }[];
}

/**
 * What a send came to. `unknownOutcomes` counts the calls of this send whose outcome is unknown
 * (SES may have sent the message before failing): each is a possible duplicate.
 */
export type SendOutcome = (
  | { readonly ok: true; readonly region: string; readonly messageId: string; readonly failedOver: boolean }
  | {
      readonly ok: false;
      readonly errorClass: SesErrorClass;
      readonly region: string;
      readonly error: string;
    }
) & { readonly unknownOutcomes?: number };

/**
 * A send-rate token taken ahead of a send (see SesSender.reserve): the send through its region
 * spends it; one never spent goes back to the region's bucket.
 */
export interface SendPermit {
  readonly region: string;
  spent: boolean;
  /** The region's rate generation when the token was taken (RateController.generation). */
  readonly generation?: number;
}

export interface RegionalClient {
  readonly region: string;
  readonly client: SESv2Client;
}

export type SenderEvent =
  | { type: "breaker"; region: string; from: BreakerState; to: BreakerState }
  | { type: "failover"; from: string; to: string }
  | { type: "throttled"; region: string; rate: number }
  | { type: "quota"; region: string; maxSendRate: number; rate: number }
  | { type: "unknown-outcome"; region: string; error: string }
  | { type: "enforcement"; region: string; error: string };

export interface SesSenderOptions {
  /** Configured cap on each region's send rate (emails per second, whole region). */
  readonly maxSendRate: number;
  /** Concurrent invocations sharing each region's rate. */
  readonly concurrency: number;
  readonly failureThreshold?: number;
  readonly cooldownMs?: number;
  /** How often the SES quota (GetAccount) is read again. */
  readonly quotaRefreshMs?: number;
  readonly onEvent?: (event: SenderEvent) => void;
  readonly now?: () => number;
  /**
   * `spread`: a send goes through the first healthy region with a token to spare, home first, so
   * that every region's quota is used when the home one is the bottleneck. @default "failover"
   */
  readonly mode?: "failover" | "spread";
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Region {
  readonly name: string;
  readonly client: SESv2Client;
  readonly breaker: CircuitBreaker;
  readonly rate: RateController;
  quotaReadAt: number;
  /** GetAccount's MaxSendRate, once read. */
  quota?: number;
  /** The first quota read, while it is in flight: every send of a new container waits for it. */
  firstRead?: Promise<void>;
}

/** The fraction of a region's known SES quota its senders pace at together. */
export const QUOTA_MARGIN = 0.98;
/** The longest a send whose permit predates the region's last slow-down waits for a new token. */
const STALE_PERMIT_WAIT_MS = 1_000;
/** The longest a new container's sends wait for its first read of a region's quota. */
const FIRST_QUOTA_WAIT_MS = 1_000;

/**
 * Sends through an ordered pool of SESv2 clients, home region first (ARCHITECTURE §4):
 * - each region has a circuit breaker: region-class failures (5xx, timeouts, connection errors,
 *   paused/suspended account, unverified identity) open it and traffic fails over to the next region;
 * - each region has a paced, adaptive rate (RateController), sized from SES GetAccount's
 *   MaxSendRate or the configured cap, whichever is lower, shared across concurrent invocations;
 * - throttling slows the region and returns, so the recipient is retried later: it is never
 *   counted as sent, and never failed over (the region is healthy, only busy);
 * - an unknown outcome (a 5xx, a timeout or reset after the request went out) fails over like a
 *   region failure, and is counted on the outcome: the message may have gone out already. The
 *   clients make no retries of their own (maxAttempts 1), so every such call is seen here;
 * - enforcement (SendingPaused, AccountSuspended) returns at once, never failed over: it is SES
 *   acting on the account, and the caller pauses the campaign;
 * - permanent errors (MessageRejected, invalid address) return at once.
 */
export class SesSender {
  private readonly regions: Region[];
  private readonly now: () => number;
  /** Senders sharing each region's rate: the configured concurrency until the budget says. */
  private senders: number;

  constructor(
    pool: readonly RegionalClient[],
    private readonly configurationSet: string,
    private readonly options: SesSenderOptions,
  ) {
    if (pool.length === 0) throw new Error("SesSender needs at least one region");
    this.now = options.now ?? Date.now;
    this.senders = options.concurrency;
    const share = options.maxSendRate / options.concurrency;
    this.regions = pool.map(({ region, client }) => ({
      name: region,
      client,
      quotaReadAt: 0,
      rate: new RateController({
        maxRate: share,
        now: this.now,
        ...(options.sleep ? { sleep: options.sleep } : {}),
      }),
      breaker: new CircuitBreaker({
        failureThreshold: options.failureThreshold ?? 3,
        cooldownMs: options.cooldownMs ?? 5_000,
        now: this.now,
        onChange: (from, to) => options.onEvent?.({ type: "breaker", region, from, to }),
      }),
    }));
  }

  /**
   * How many senders share each region's rate now (the region's sending budget, SharedBudget):
   * each one's share is the region's limit divided by them.
   */
  setSenders(senders: number): void {
    if (senders === this.senders || senders < 1) return;
    this.senders = senders;
    for (const region of this.regions) region.rate.setShare(this.limitOf(region));
  }

  /** The home region's rate learned from a 429 (this sender's share of it), and when. */
  homeCeiling(): { rate: number; at: number } | undefined {
    return this.regions[0]?.rate.ceiling;
  }

  /** Holds the home region just under `ceiling` (this sender's share of the region's learned rate). */
  adoptHomeCeiling(ceiling: number, learnedAt?: number): void {
    this.regions[0]?.rate.setCeiling(ceiling, learnedAt);
  }

  breakerStates(): Record<string, BreakerState> {
    return Object.fromEntries(this.regions.map((r) => [r.name, r.breaker.current]));
  }

  /**
   * Takes a token of the region a send would go to now (the first whose breaker lets calls
   * through), waiting at most until `until` (epoch ms); undefined, taking nothing, if none comes in
   * time. The sender claims a recipient only once it holds a permit, so no claim is held through
   * a throttled region's wait, and an invocation never claims more than it can send.
   */
  async reserve(until: number): Promise<SendPermit | undefined> {
    if (this.options.mode === "spread") return this.reserveAnywhere(until);
    const region = this.regions.find((r) => r.breaker.available) ?? this.regions.at(0);
    if (!region) return undefined;
    await this.refreshQuota(region);
    return (await region.rate.takeBefore(until)) ? this.permitOf(region) : undefined;
  }

  /**
   * Spread: a token from the first available region that has one now, home first; if none has,
   * waits for the soonest (never past `until`). Each region is paced at its own rate, so the
   * regions together send at the sum of their quotas.
   */
  private async reserveAnywhere(until: number): Promise<SendPermit | undefined> {
    const sleep = this.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    for (;;) {
      const open = this.regions.filter((r) => r.breaker.available);
      if (open.length === 0) return undefined;
      let soonest = Number.POSITIVE_INFINITY;
      for (const region of open) {
        await this.refreshQuota(region);
        const wait = region.rate.tryTake();
        if (wait === 0) return this.permitOf(region);
        soonest = Math.min(soonest, wait);
      }
      if (this.now() + soonest > until) return undefined;
      await sleep(soonest);
    }
  }

  private permitOf(region: Region): SendPermit {
    return { region: region.name, spent: false, generation: region.rate.generation };
  }

  /** Gives a permit's token back unless a send spent it (the recipient was not sent after all). */
  release(permit: SendPermit): void {
    if (permit.spent) return;
    permit.spent = true;
    this.regions.find((r) => r.name === permit.region)?.rate.giveBack();
  }

  /** Sends one email; a permit for the region it goes through stands in for that region's token. */
  async send(email: OutgoingEmail, permit?: SendPermit): Promise<SendOutcome> {
    try {
      return await this.sendThroughPool(email, permit);
    } finally {
      if (permit) this.release(permit);
    }
  }

  private async sendThroughPool(email: OutgoingEmail, permit?: SendPermit): Promise<SendOutcome> {
    // The permit's region first (home, unless spreading chose another), then the rest in order.
    const home = this.regions[0] as Region;
    const first = this.regions.find((r) => r.name === permit?.region) ?? home;
    let last: SendOutcome | undefined;
    let unknownOutcomes = 0;
    const counted = (outcome: SendOutcome): SendOutcome =>
      unknownOutcomes > 0 ? { ...outcome, unknownOutcomes } : outcome;
    for (const region of [first, ...this.regions.filter((r) => r !== first)]) {
      if (!region.breaker.allow()) continue;
      if (permit && !permit.spent && permit.region === region.name) {
        permit.spent = true;
        // SES throttled the region since the permit's token was taken at the old rate: the send waits
        // for a token at the new one, a moment at most, or goes back as throttled without a call. So
        // the sends holding permits when the first 429s came do not all go on to earn 429s too.
        if (permit.generation !== undefined && permit.generation !== region.rate.generation) {
          if (!(await region.rate.takeBefore(this.now() + STALE_PERMIT_WAIT_MS)))
            return counted({
              ok: false,
              errorClass: "throttled",
              region: region.name,
              error: "held back: the region was throttled after this send's token was taken",
            });
        }
      } else {
        await this.refreshQuota(region);
        await region.rate.take();
      }
      try {
        const out = await region.client.send(this.command(email));
        if (!out.MessageId)
          throw Object.assign(new Error("SES returned no MessageId"), { name: "InternalFailure" });
        region.breaker.success();
        region.rate.onSuccess();
        if (region !== first) this.options.onEvent?.({ type: "failover", from: first.name, to: region.name });
        return counted({
          ok: true,
          region: region.name,
          messageId: out.MessageId,
          failedOver: region !== first,
        });
      } catch (error) {
        const errorClass = classifySesError(error);
        last = { ok: false, errorClass, region: region.name, error: describe(error) };
        if (errorClass === "throttled") {
          // A 429 proves the region answers: healthy, only busy.
          region.breaker.success();
          region.rate.onThrottled();
          this.options.onEvent?.({ type: "throttled", region: region.name, rate: region.rate.rate });
          return counted(last);
        }
        if (errorClass === "permanent") {
          region.breaker.success();
          return counted(last);
        }
        if (errorClass === "enforcement") {
          // The region answers; the account may not send. Not the region's health, not failed over.
          region.breaker.release();
          this.options.onEvent?.({ type: "enforcement", region: region.name, error: last.error });
          return counted(last);
        }
        if (errorClass === "unknown") {
          unknownOutcomes++;
          this.options.onEvent?.({ type: "unknown-outcome", region: region.name, error: last.error });
        }
        region.breaker.failure();
      }
    }
    return counted(
      last ?? {
        ok: false,
        errorClass: "region",
        region: home.name,
        error: "every SES region is unavailable",
      },
    );
  }

  private command(email: OutgoingEmail): SendEmailCommand {
    return new SendEmailCommand({
      FromEmailAddress: email.from,
      Destination: { ToAddresses: [email.to] },
      ...(email.replyTo ? { ReplyToAddresses: [email.replyTo] } : {}),
      ConfigurationSetName: this.configurationSet,
      EmailTags: [
        { Name: CAMPAIGN_TAG, Value: email.campaignId },
        ...(email.test ? [{ Name: TEST_SEND_TAG, Value: "true" }] : []),
      ],
      Content: {
        Simple: {
          Subject: { Data: email.subject, Charset: "UTF-8" },
          Body: {
            Html: { Data: email.html, Charset: "UTF-8" },
            Text: { Data: email.text, Charset: "UTF-8" },
          },
          ...(email.headers?.length
            ? { Headers: email.headers.map((h) => ({ Name: h.name, Value: h.value })) }
            : {}),
        },
      },
    });
  }

  /**
   * This sender's share of a region: the lower of the cap and SES's quota, over the senders. The
   * quota is paced just under (QUOTA_MARGIN): senders pacing at exactly their shares each send one
   * more than their share in some of SES's one-second windows, together over the quota, and those
   * 429s would teach them a ceiling well under it.
   */
  private limitOf(region: Region): number {
    const quota = region.quota === undefined ? Number.POSITIVE_INFINITY : region.quota * QUOTA_MARGIN;
    return Math.min(this.options.maxSendRate, quota) / this.senders;
  }

  /**
   * Reads the region's SES quota at first use and every few minutes after; failures keep the cap.
   * Until the first read is answered, every caller waits for it (a second at most, so that a
   * region that hangs still fails over soon): a container that paced its first sends at the cap
   * while the read was out would start with a burst over a lower quota.
   */
  private async refreshQuota(region: Region): Promise<void> {
    if (region.firstRead) return region.firstRead;
    if (this.now() - region.quotaReadAt < (this.options.quotaRefreshMs ?? 300_000)) return;
    region.quotaReadAt = this.now();
    const read = this.readQuota(region);
    if (region.quota !== undefined) return read;
    // readQuota never rejects: a failed read keeps the cap.
    region.firstRead = within(read, FIRST_QUOTA_WAIT_MS).then(() => {
      region.firstRead = undefined;
    });
    return region.firstRead;
  }

  private async readQuota(region: Region): Promise<void> {
    try {
      const account = await region.client.send(new GetAccountCommand({}));
      const maxSendRate = account.SendQuota?.MaxSendRate;
      if (maxSendRate && maxSendRate > 0) {
        region.quota = maxSendRate;
        const limit = this.limitOf(region);
        region.rate.setMaxRate(limit);
        this.options.onEvent?.({ type: "quota", region: region.name, maxSendRate, rate: limit });
      }
    } catch {
      // Keep the configured cap; the next refresh tries again.
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
