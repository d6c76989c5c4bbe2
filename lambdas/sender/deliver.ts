import type { SendMessage, SendRecipient } from "../contracts/messages.ts";
import type { SendPermit } from "../adapters/ses-sender.ts";
import type { Campaign } from "../domain/campaign.ts";
import { OrderedSlots, sleep } from "../shared/concurrency.ts";
import { PoisonMessageError } from "../shared/sqs-batch.ts";
import { composeEmail } from "./compose.ts";
import { appliedIntents, withContent } from "../adapters/campaign-items.ts";
import { effectiveStatus, pendingIntents } from "../domain/ownership.ts";
import { ERASED } from "../domain/email.ts";
import type { DeliveryDeps, RecipientResult } from "./delivery-contract.ts";

/** How long a sender trusts a campaign's status: a pause reaching its replica stops SES calls within this long. */
export const STATUS_TTL_MS = 2_000;

/** The longest pause between two attempts to record an accepted send. */
const RECORD_RETRY_MAX_MS = 500;

/** The suppression reasons of a message's recipients, read once on first use, and when. */
class Suppressions {
  private pending: Promise<{ reasons: ReadonlyMap<string, string>; at: number }> | undefined;

  constructor(private readonly load: () => Promise<ReadonlyMap<string, string>>) {}

  read(now: () => number): Promise<{ reasons: ReadonlyMap<string, string>; at: number }> {
    this.pending ??= this.load().then(
      (reasons) => ({ reasons, at: now() }),
      (error: unknown) => {
        this.pending = undefined; // the next recipient tries again
        throw error;
      },
    );
    return this.pending;
  }
}

interface CachedCampaign {
  campaign: Campaign;
  readAt: number;
}

/**
 * Delivers send messages, each on its own call, with slots shared by the calls of a container: for
 * each recipient, claim it in the ledger, check the campaign is still sending, render, send through
 * the SES pool, record the outcome.
 */
export class Delivery {
  private readonly campaigns = new Map<string, CachedCampaign>();
  /**
   * The recipients in flight, one message's after another's: send tokens go to the messages in
   * turn, so what a time-boxed invocation has no time for is mostly whole messages, put back as they
   * came, and the tail of one (a message whose campaign and owner reads come back sooner than an
   * earlier message's takes free slots first). Shared slots taken at random left the tail of every
   * message, and the fragments came back as ever smaller messages, each an invocation's start and
   * end for little.
   */
  private readonly slots: OrderedSlots;

  constructor(private readonly deps: DeliveryDeps) {
    this.slots = new OrderedSlots(deps.parallelism);
  }

  /**
   * `deadline` (epoch ms) is when the invocation must be done with the message: recipients it would
   * claim too late to send and record are `deferred`, never claimed.
   */
  async deliver(
    message: Pick<SendMessage, "campaignId" | "recipients">,
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<RecipientResult[]> {
    const turn = this.slots.turn();
    const campaign = await this.campaign(message.campaignId);
    const owner = await this.deps.owner(message.campaignId);
    if (owner !== "act") return message.recipients.map(() => (owner === "wait" ? "retry" : "elsewhere"));
    // One read for the message's recipients instead of one per recipient, made when the first of
    // them is about to be sent (a paused campaign or a redelivered message reads nothing).
    const suppressions = new Suppressions(() => this.suppressionReasons(campaign, message.recipients));
    return turn.map(message.recipients, (recipient) =>
      this.deliverOne(message.campaignId, recipient, deadline, suppressions),
    );
  }

  private async suppressionReasons(
    campaign: Campaign,
    recipients: readonly SendRecipient[],
  ): Promise<Map<string, string>> {
    if (!this.deps.suppressionReasons || recipients.length === 0) return new Map();
    return this.deps.suppressionReasons(
      campaign,
      recipients.map((r) => r.email),
    );
  }

  /** Why a recipient must not be mailed, from the message's read while it is fresh, else read again. */
  private async suppressionOf(
    campaign: Campaign,
    recipient: SendRecipient,
    suppressions: Suppressions,
  ): Promise<string | undefined> {
    const read = await suppressions.read(this.deps.now);
    if (this.deps.now() - read.at < (this.deps.statusTtlMs ?? STATUS_TTL_MS))
      return read.reasons.get(recipient.email);
    return (await this.suppressionReasons(campaign, [recipient])).get(recipient.email);
  }

  /**
   * The campaign, its control items re-read when its cached status is older than `statusTtlMs`.
   * Content is frozen once a campaign leaves draft; only the status (paused, cancelled) changes.
   */
  private async campaign(id: string): Promise<Campaign> {
    const cached = this.campaigns.get(id);
    const now = this.deps.now();
    if (cached && now - cached.readAt < (this.deps.statusTtlMs ?? STATUS_TTL_MS)) return cached.campaign;
    // The content was read once; after that only the small control items are.
    const control = cached ? await this.deps.campaigns.getControl(id) : undefined;
    const stored =
      control && cached ? withContent(control, cached.campaign) : await this.deps.campaigns.get(id);
    if (!stored) throw new PoisonMessageError("unknown campaign");
    // A pause or cancel asked of another region is obeyed as soon as it reaches this replica,
    // before the watch writes it on the campaign.
    const status = effectiveStatus(
      stored.status,
      pendingIntents(stored.intents ?? [], appliedIntents(stored)),
    );
    const campaign = { ...stored, status };
    this.campaigns.set(id, { campaign, readAt: now });
    return campaign;
  }

  private async deliverOne(
    campaignId: string,
    recipient: SendRecipient,
    deadline: number,
    suppressions: Suppressions,
  ): Promise<RecipientResult> {
    const { ledger, ses } = this.deps;
    const before = await this.campaign(campaignId);
    if (before.status === "cancelled") {
      await ledger.cancel(campaignId, recipient.email, this.deps.now());
      return "cancelled";
    }
    if (before.status === "paused") return "held";
    // A send token first, then the claim: under throttling, a recipient whose turn would come too
    // late for this invocation is handed back unclaimed instead of holding its claim while waiting.
    const claimUntil = deadline - this.deps.claimReserveMs;
    if (this.deps.now() > claimUntil) return "deferred";
    const permit = await ses.reserve(claimUntil);
    if (!permit) return "deferred";
    try {
      return await this.claimAndSend(campaignId, recipient, deadline, before, permit, suppressions);
    } finally {
      ses.release(permit);
    }
  }

  private async claimAndSend(
    campaignId: string,
    recipient: SendRecipient,
    deadline: number,
    before: Campaign,
    permit: SendPermit,
    suppressions: Suppressions,
  ): Promise<RecipientResult> {
    const { ledger, ses } = this.deps;
    let claimedAt = this.deps.now();
    let claim = await ledger.claim(campaignId, recipient.email, claimedAt, this.deps.leaseMs);
    if (!claim.claimed && !claim.current) {
      // No ledger item. While the fan-out runs, it is the only writer of items (it batch-writes
      // pages no one has touched): wait for it. After it, this is a message from elsewhere (a
      // redrive after the item expired, say): create the item so the recipient is recorded.
      if (!before.fanoutDone) return "retry";
      // An erased person is never written down again, not even as suppressed.
      if ((await this.suppressionOf(before, recipient, suppressions)) === ERASED) return "skipped";
      await ledger.createQueued(campaignId, [recipient.email], this.deps.now());
      claimedAt = this.deps.now();
      claim = await ledger.claim(campaignId, recipient.email, claimedAt, this.deps.leaseMs);
    }
    if (!claim.claimed) {
      // Terminal: done already (a redelivered message, whose first handling may not have published
      // its events). `sending` under a live lease: another worker has it right now; come back later
      // in case that worker dies.
      if (claim.current && claim.current.status !== "sending")
        this.deps.onEvent?.({ type: "recorded-before", item: claim.current });
      return claim.current?.status === "sending" ? "retry" : "skipped";
    }
    const release = (error: string) =>
      ledger.complete(
        campaignId,
        recipient.email,
        claim.claimId,
        { status: "queued", error },
        this.deps.now(),
      );

    // A pause must stop SES calls within seconds: look again right before sending.
    const campaign = await this.campaign(campaignId);
    if (campaign.status === "paused" || campaign.status === "cancelled") {
      await release(`campaign ${campaign.status}`);
      return campaign.status === "paused" ? "held" : this.cancelled(campaignId, recipient.email);
    }
    const suppressed = await this.suppressionOf(campaign, recipient, suppressions);
    if (suppressed === ERASED) {
      // Erased after the fan-out wrote this item: the item goes too, instead of recording the address.
      await ledger.eraseRecipient(campaignId, recipient.email);
      return "skipped";
    }
    if (suppressed) {
      await ledger.complete(
        campaignId,
        recipient.email,
        claim.claimId,
        { status: "suppressed", reason: suppressed },
        this.deps.now(),
      );
      this.deps.onEvent?.({ type: "suppressed", campaignId, email: recipient.email, reason: suppressed });
      return "suppressed";
    }

    // The claim reserve is the time left to record a send through a short DynamoDB outage: if the
    // token, the claim and the reads above used it up, hand the recipient back instead of sending.
    if (this.deps.now() > deadline - this.deps.claimReserveMs) {
      await release("deferred: too little of the invocation left to record a send");
      return "deferred";
    }
    const outcome = await ses.send(composeEmail(campaign, recipient), permit);
    if (outcome.unknownOutcomes) {
      this.deps.onEvent?.({
        type: "unknown-outcome",
        campaignId,
        email: recipient.email,
        calls: outcome.unknownOutcomes,
      });
    }
    if (!outcome.ok && outcome.errorClass === "enforcement") {
      // SES stopped the account's sending: no other region, no retry loop. The recipient waits in
      // the ledger, the campaign is paused with the reason, and its alarm goes off; a person
      // resumes it once SES lets the account send again.
      await release(outcome.error);
      const reason = `SES enforcement in ${outcome.region}: ${outcome.error}`.slice(0, 200);
      await this.deps.pause(campaignId, reason);
      this.campaigns.delete(campaignId);
      this.deps.onEvent?.({ type: "enforcement", campaignId, reason });
      return "held";
    }
    if (outcome.ok) {
      const recorded = await this.recordSent(
        campaignId,
        recipient.email,
        claim.claimId,
        outcome.region,
        outcome.messageId,
        Math.min(claimedAt + this.deps.leaseMs, deadline),
      );
      this.deps.onEvent?.({
        type: "sent",
        campaignId,
        email: recipient.email,
        region: outcome.region,
        messageId: outcome.messageId,
        failedOver: outcome.failedOver,
      });
      if (!recorded) this.deps.onEvent?.({ type: "duplicate-window", campaignId });
      return "sent";
    }
    if (outcome.errorClass === "permanent") {
      await ledger.complete(
        campaignId,
        recipient.email,
        claim.claimId,
        { status: "failed", region: outcome.region, error: outcome.error },
        this.deps.now(),
      );
      this.deps.onEvent?.({
        type: "failed",
        campaignId,
        email: recipient.email,
        region: outcome.region,
        error: outcome.error,
        errorClass: outcome.errorClass,
      });
      return "failed";
    }
    // Throttled, or every region unavailable: hand the recipient back to `queued` so the retry can
    // claim it at once instead of waiting out the lease. Never counted as sent.
    await release(outcome.error);
    this.deps.onEvent?.({ type: "retry", errorClass: outcome.errorClass });
    // A 429 is a pace to keep, not a fault to back off from: the pacing has slowed already.
    return outcome.errorClass === "throttled" ? "throttled" : "retry";
  }

  private async cancelled(campaignId: string, email: string): Promise<RecipientResult> {
    await this.deps.ledger.cancel(campaignId, email, this.deps.now());
    return "cancelled";
  }

  /**
   * After SES accepted a message, recording it is what prevents a second send: keep trying through
   * a DynamoDB outage for as long as the claim's lease and the invocation last (after that, another
   * worker may take the recipient over and nothing this worker writes can stop it). Retries are at
   * most RECORD_RETRY_MAX_MS apart, so the record lands right after the outage ends. Returns false
   * when the claim was lost: the one documented duplicate window.
   */
  private async recordSent(
    campaignId: string,
    email: string,
    claimId: string,
    region: string,
    sesMessageId: string,
    until: number,
  ) {
    for (let i = 0; ; i++) {
      try {
        return await this.deps.ledger.complete(
          campaignId,
          email,
          claimId,
          { status: "sent", region, sesMessageId },
          this.deps.now(),
        );
      } catch (error) {
        // Every half second at most: an outage that ends just before `until` is still caught, so the
        // recipient is recorded instead of being sent again once its lease runs out.
        const wait = Math.min(RECORD_RETRY_MAX_MS, 250 * 2 ** i);
        if (this.deps.now() + wait >= until) {
          // SES sent it and the ledger does not say so: once the lease runs out it is sent again.
          this.deps.onEvent?.({ type: "duplicate-window", campaignId });
          throw error;
        }
        await sleep(wait);
      }
    }
  }
}
