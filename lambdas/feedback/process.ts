import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import type { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { Ownership } from "../usecases/campaign-ownership.ts";
import type { LedgerRef } from "../adapters/ledger-items.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { FeedbackCounter } from "../domain/feedback-counters.ts";
import { type FeedbackEvent, suppressionFor } from "../domain/feedback-event.ts";
import { reputationVerdict } from "../domain/reputation.ts";
import { pauseCampaign } from "../usecases/campaign-workflows.ts";

export type FeedbackOutcome = "recorded" | "duplicate" | "ignored" | "unmatched";

export type FeedbackNotice =
  | { type: "suppressed"; reason: "bounce" | "complaint"; count: number }
  | { type: "recorded"; eventType: string; first: boolean }
  | { type: "paused"; campaignId: string; reason: string; paused: boolean };

export interface FeedbackDeps {
  readonly ledger: Pick<LedgerStore, "findByMessageId" | "recordFirst" | "recordAlways">;
  readonly campaigns: Pick<CampaignStore, "get" | "transition">;
  /** This region's counter item of each campaign: the only one its feedback function writes. */
  readonly counters: Pick<CampaignCounterStore, "increment" | "markGuardTripped">;
  readonly agenda: Pick<CampaignAgendaStore, "markActive">;
  /** The guard's pause goes to the owner region as an intent when this region does not own the campaign. */
  readonly ownership: Ownership;
  readonly subscribers: Pick<SubscriberStore, "markFeedback">;
  readonly suppressions: Pick<SuppressionStore, "put">;
  readonly now: () => Date;
  readonly onNotice?: (notice: FeedbackNotice) => void;
}

/**
 * What each SES event updates (counters are this region's counter item of the campaign, summed
 * with the other regions' on read; flags are on the ledger item; a counter moves only when its
 * flag is set for the first time). The ledger item is written by the owner's sender until it is
 * terminal, then only by the region that processes its SES events: the event finds the item by the
 * SES message id, which reaches this region's replica with the terminal record, so the two writers
 * never overlap.
 *
 *   Send             flag sendEventAt                          counter sent       + guard
 *   Delivery         flag deliveredAt                          counter delivered
 *   Bounce Permanent flag bouncedAt, bounceType, bounceSubType counter bounced    + suppress, subscriber bounced, guard
 *   Bounce other     lastBounceAt, bounceType, bounceSubType   (SES gave up after retrying: recorded only)
 *   Complaint        flag complainedAt, complaintFeedbackType  counter complained + suppress, subscriber complained, guard
 *   Open             flag openedAt                             counter opened (unique opens)
 *   Click            flag clickedAt, clickedLink               counter clicked (unique clickers)
 *   Reject           rejectedAt, rejectReason
 *   Rendering Failure renderingFailedAt, renderingError
 *   DeliveryDelay    lastDelayAt, delayType
 *   Subscription     nothing (SES-managed contact lists are not used: unsubscribes come to /u/{token})
 */
const FIRST_TIME: Partial<Record<FeedbackEvent["type"], { flag: string; counter: FeedbackCounter }>> = {
  Send: { flag: "sendEventAt", counter: "sent" },
  Delivery: { flag: "deliveredAt", counter: "delivered" },
  Complaint: { flag: "complainedAt", counter: "complained" },
  Open: { flag: "openedAt", counter: "opened" },
  Click: { flag: "clickedAt", counter: "clicked" },
};

/** Events after which the reputation guard looks at the campaign again. */
const GUARDED: ReadonlySet<FeedbackEvent["type"]> = new Set(["Send", "Bounce", "Complaint"]);

export class FeedbackProcessor {
  private readonly listIds = new Map<string, string | undefined>();

  constructor(private readonly deps: FeedbackDeps) {}

  async process(event: FeedbackEvent): Promise<FeedbackOutcome> {
    if (event.type === "Subscription") return "ignored";
    const now = this.deps.now().toISOString();
    const at = event.at ?? now;

    // Suppression first, and whether or not the message is ours: an address that bounced hard
    // must never be mailed again, even if its ledger item has expired.
    const suppression = suppressionFor(event);
    if (suppression) {
      for (const email of suppression.emails)
        await this.deps.suppressions.put(email, suppression.reason, now);
      this.deps.onNotice?.({
        type: "suppressed",
        reason: suppression.reason,
        count: suppression.emails.length,
      });
    }

    const ref = await this.deps.ledger.findByMessageId(event.mail.messageId);
    if (!ref) return "unmatched";

    const outcome = await this.record(event, ref, at);
    this.deps.onNotice?.({ type: "recorded", eventType: event.type, first: outcome === "recorded" });

    if (suppression) {
      const listId = await this.listIdOf(ref.campaignId);
      if (listId)
        await this.deps.subscribers.markFeedback(
          listId,
          ref.email,
          suppression.reason === "bounce" ? "bounced" : "complained",
          at,
        );
    }
    // Evaluated after duplicates too: a retried message whose first attempt failed after the
    // counter moved still gets its guard check.
    if (GUARDED.has(event.type)) await this.guard(ref.campaignId, now);
    return outcome;
  }

  private async record(event: FeedbackEvent, ref: LedgerRef, at: string): Promise<FeedbackOutcome> {
    const store = this.deps.ledger;
    if (event.type === "Bounce") {
      const bounce = event.bounce;
      const sets: Record<string, string> = {
        bounceType: bounce?.bounceType ?? "Undetermined",
        bounceSubType: bounce?.bounceSubType ?? "Undetermined",
        ...(bounce?.diagnostic ? { bounceDiagnostic: bounce.diagnostic } : {}),
      };
      if (bounce?.bounceType !== "Permanent") {
        await store.recordAlways(ref, { lastBounceAt: at, ...sets });
        return "recorded";
      }
      return this.first(ref, "bouncedAt", at, sets, "bounced");
    }
    const firstTime = FIRST_TIME[event.type];
    if (firstTime) {
      const sets: Record<string, string> = {};
      if (event.type === "Complaint" && event.complaint?.feedbackType)
        sets.complaintFeedbackType = event.complaint.feedbackType;
      if (event.type === "Click" && event.click?.link) sets.clickedLink = event.click.link;
      return this.first(ref, firstTime.flag, at, sets, firstTime.counter);
    }
    switch (event.type) {
      case "Reject":
        await store.recordAlways(ref, {
          rejectedAt: at,
          ...(event.reject?.reason ? { rejectReason: event.reject.reason } : {}),
        });
        return "recorded";
      case "Rendering Failure":
        await store.recordAlways(ref, {
          renderingFailedAt: at,
          ...(event.failure?.errorMessage ? { renderingError: event.failure.errorMessage } : {}),
        });
        return "recorded";
      case "DeliveryDelay":
        await store.recordAlways(ref, {
          lastDelayAt: at,
          ...(event.deliveryDelay?.delayType ? { delayType: event.deliveryDelay.delayType } : {}),
        });
        return "recorded";
      default:
        return "ignored";
    }
  }

  private async first(
    ref: LedgerRef,
    flag: string,
    at: string,
    sets: Record<string, string>,
    counter: FeedbackCounter,
  ): Promise<FeedbackOutcome> {
    const count = this.deps.counters.increment(ref.campaignId, counter);
    return this.deps.ledger.recordFirst(ref, flag, at, sets, count);
  }

  private async listIdOf(campaignId: string): Promise<string | undefined> {
    if (!this.listIds.has(campaignId))
      this.listIds.set(campaignId, (await this.deps.campaigns.get(campaignId))?.listId);
    return this.listIds.get(campaignId);
  }

  /** Pauses a campaign whose bounce or complaint rate crossed the SES review thresholds. */
  private async guard(campaignId: string, now: string): Promise<void> {
    const campaign = await this.deps.campaigns.get(campaignId, true);
    if (!campaign?.feedback || campaign.reputationGuard) return;
    // Send events are delivered at best effort (EventBridge): the senders' own count of what SES
    // accepted keeps the denominator whole when some are lost.
    const sent = Math.max(campaign.feedback.sent, campaign.accepted ?? 0);
    const reason = reputationVerdict({ ...campaign.feedback, sent });
    if (!reason) return;
    // Pause first (conditional: only a queued or sending campaign), then flag the campaign so the
    // metric and its alarm fire once, even with concurrent events. A crash in between is retried:
    // the flag is still absent, the pause is already done. Once flagged, the guard leaves the
    // campaign alone, so a person can resume it deliberately.
    // Another region's campaign gets the pause as an intent, which its owner applies.
    const kind = (await pauseCampaign(this.deps, campaignId, reason, now)).kind;
    const paused = kind === "applied" || kind === "requested";
    if (!(await this.deps.counters.markGuardTripped(campaignId, reason, now))) return;
    this.deps.onNotice?.({ type: "paused", campaignId, reason, paused });
  }
}
