import type { AudienceStore } from "../adapters/audience-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { SendMessage, SendRecipient } from "../adapters/queue.ts";
import type { SesSender } from "../adapters/ses-sender.ts";
import type { Campaign } from "../domain/campaign.ts";
import { mapLimit, sleep } from "../shared/concurrency.ts";
import { PoisonMessageError } from "../shared/sqs-batch.ts";
import { composeEmail } from "./compose.ts";

export type RecipientResult = "sent" | "failed" | "suppressed" | "skipped" | "retry";

export interface DeliveryDeps {
  readonly audience: Pick<AudienceStore, "getCampaign">;
  readonly ledger: Pick<LedgerStore, "claim" | "complete" | "createQueued">;
  readonly ses: Pick<SesSender, "send">;
  readonly now: () => number;
  /** How long a claim is held before another worker may take the recipient over. */
  readonly leaseMs: number;
  /** Recipients handled at once within one message. */
  readonly parallelism: number;
  readonly onEvent?: (event: DeliveryEvent) => void;
  /**
   * Why this recipient must not be mailed (unsubscribed, on the suppression list…), checked right
   * before each send; undefined to send.
   */
  readonly suppressionReason?: (campaign: Campaign, recipient: SendRecipient) => Promise<string | undefined>;
}

export type DeliveryEvent =
  | { type: "sent"; region: string; failedOver: boolean }
  | { type: "failed"; errorClass: string }
  | { type: "suppressed" }
  | { type: "retry"; errorClass: string }
  | { type: "duplicate-window"; campaignId: string };

/**
 * Delivers one send message: for each recipient, claim it in the ledger, render, send through the
 * SES pool, record the outcome. Returns the per-recipient results; the caller retries the message
 * when any recipient came back `retry`.
 */
export class Delivery {
  private readonly campaigns = new Map<string, Campaign>();

  constructor(private readonly deps: DeliveryDeps) {}

  async deliver(message: SendMessage): Promise<RecipientResult[]> {
    const campaign = await this.campaign(message.campaignId);
    return mapLimit(message.recipients, this.deps.parallelism, (recipient) =>
      this.deliverOne(campaign, recipient),
    );
  }

  private async campaign(id: string): Promise<Campaign> {
    const cached = this.campaigns.get(id);
    if (cached) return cached;
    const campaign = await this.deps.audience.getCampaign(id);
    if (!campaign) throw new PoisonMessageError("unknown campaign");
    // Content is frozen once a campaign leaves draft, so it can be cached for the container's life.
    this.campaigns.set(id, campaign);
    return campaign;
  }

  private async deliverOne(campaign: Campaign, recipient: SendRecipient): Promise<RecipientResult> {
    const { ledger, ses } = this.deps;
    let claim = await ledger.claim(campaign.id, recipient.email, this.deps.now(), this.deps.leaseMs);
    if (!claim.claimed && !claim.current) {
      // No ledger item: fan-out always writes it before the message, so this is a message from
      // elsewhere (a redrive after the item expired, say). Create it so the recipient is recorded.
      await ledger.createQueued(campaign.id, [recipient.email], this.deps.now());
      claim = await ledger.claim(campaign.id, recipient.email, this.deps.now(), this.deps.leaseMs);
    }
    if (!claim.claimed) {
      // Terminal: done already (a redelivered message). `sending` under a live lease: another worker
      // has it right now; come back later in case that worker dies.
      return claim.current?.status === "sending" ? "retry" : "skipped";
    }
    const suppressed = await this.deps.suppressionReason?.(campaign, recipient);
    if (suppressed) {
      await ledger.complete(
        campaign.id,
        recipient.email,
        claim.attempt,
        { status: "suppressed", reason: suppressed },
        this.deps.now(),
      );
      this.deps.onEvent?.({ type: "suppressed" });
      return "suppressed";
    }
    const outcome = await ses.send(composeEmail(campaign, recipient));
    if (outcome.ok) {
      const recorded = await this.recordSent(
        campaign.id,
        recipient.email,
        claim.attempt,
        outcome.region,
        outcome.messageId,
      );
      this.deps.onEvent?.({ type: "sent", region: outcome.region, failedOver: outcome.failedOver });
      if (!recorded) this.deps.onEvent?.({ type: "duplicate-window", campaignId: campaign.id });
      return "sent";
    }
    if (outcome.errorClass === "permanent") {
      await ledger.complete(
        campaign.id,
        recipient.email,
        claim.attempt,
        { status: "failed", region: outcome.region, error: outcome.error },
        this.deps.now(),
      );
      this.deps.onEvent?.({ type: "failed", errorClass: outcome.errorClass });
      return "failed";
    }
    // Throttled, or every region unavailable: hand the recipient back to the queue state so the
    // retry can claim it at once instead of waiting out the lease.
    await ledger.complete(
      campaign.id,
      recipient.email,
      claim.attempt,
      { status: "queued", error: outcome.error },
      this.deps.now(),
    );
    this.deps.onEvent?.({ type: "retry", errorClass: outcome.errorClass });
    return "retry";
  }

  /**
   * After SES accepted a message, recording it is what prevents a second send: keep trying for a
   * while through a DynamoDB hiccup. Returns false when the claim was lost (its lease expired and
   * another worker took the recipient: the one documented duplicate window).
   */
  private async recordSent(
    campaignId: string,
    email: string,
    attempt: number,
    region: string,
    sesMessageId: string,
  ) {
    for (let i = 0; ; i++) {
      try {
        return await this.deps.ledger.complete(
          campaignId,
          email,
          attempt,
          { status: "sent", region, sesMessageId },
          this.deps.now(),
        );
      } catch (error) {
        if (i >= 8) throw error;
        await sleep(Math.min(8_000, 250 * 2 ** i));
      }
    }
  }
}
