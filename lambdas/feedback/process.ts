import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import type { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { Ownership } from "../usecases/campaign-ownership.ts";
import type { FirstFact, LedgerRef } from "../adapters/ledger-items.ts";
import type { LedgerFeedback } from "../adapters/ledger-feedback.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { FeedbackCounter } from "../domain/feedback-counters.ts";
import { type FeedbackEvent, suppressionFor } from "../domain/feedback-event.ts";
import { encodeEngagement, isMachineAgent } from "../domain/engagement.ts";
import { reputationVerdict } from "../domain/reputation.ts";
import { pauseCampaign } from "../usecases/campaign-workflows.ts";
import { CAMPAIGN_TAG, TEST_SEND_TAG } from "../contracts/events.ts";

export type FeedbackOutcome = "recorded" | "duplicate" | "ignored" | "unmatched";

export type FeedbackNotice =
  | { type: "suppressed"; reason: "bounce" | "complaint"; count: number }
  | {
      type: "recorded";
      eventType: string;
      first: boolean;
      event: FeedbackEvent;
      campaignId: string;
      email: string;
    }
  | { type: "paused"; campaignId: string; reason: string; paused: boolean };

export interface FeedbackDeps {
  readonly ledger: Pick<LedgerFeedback, "findAll" | "recordFirstAll" | "recordAlways" | "recordEngagement">;
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
 *   Open             flag openedAt                             counter opened (unique opens)       + engagement entry
 *   Click            flag clickedAt, clickedLink               counter clicked (unique clickers)   + engagement entry
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

/** A first-time fact with the counter that counts it. */
interface CountedFact extends FirstFact {
  readonly counter: FeedbackCounter;
}

export class FeedbackProcessor {
  private readonly listIds = new Map<string, string | undefined>();

  constructor(private readonly deps: FeedbackDeps) {}

  async process(event: FeedbackEvent): Promise<FeedbackOutcome> {
    return (await this.processAll([event]))[0] as FeedbackOutcome;
  }

  /**
   * Processes a batch of events together: their first-time facts and the counters that count them
   * are written in a few transactions (LedgerFeedback.recordFirstAll) instead of one per event, and the
   * reputation guard looks once at each campaign the batch touched. Returns each event's outcome,
   * in order; throws (and the batch is retried, which duplicates make harmless) if a write fails.
   */
  async processAll(events: readonly FeedbackEvent[]): Promise<FeedbackOutcome[]> {
    const now = this.deps.now().toISOString();
    const outcomes: FeedbackOutcome[] = events.map(() => "ignored");

    // Suppression first, and whether or not the message is ours: an address that bounced hard
    // must never be mailed again, even if its ledger item has expired.
    for (const event of events) {
      const suppression = suppressionFor(event);
      if (!suppression) continue;
      for (const email of suppression.emails)
        await this.deps.suppressions.put(email, suppression.reason, now);
      this.deps.onNotice?.({
        type: "suppressed",
        reason: suppression.reason,
        count: suppression.emails.length,
      });
    }

    // Subscription events name no ledger item, and test sends have none: not looked up (ignored).
    const wanted = events.filter((event) => event.type !== "Subscription" && !isTestSend(event));
    const found = await this.deps.ledger.findAll(
      wanted.map((event) => ({
        messageId: event.mail.messageId,
        ...(event.mail.tags[CAMPAIGN_TAG]?.[0] ? { campaignId: event.mail.tags[CAMPAIGN_TAG][0] } : {}),
        ...(event.mail.destination.length === 1 ? { email: event.mail.destination[0] } : {}),
      })),
    );
    const refOf = new Map(wanted.map((event, i) => [event, found[i]]));
    const refs = events.map((event) => refOf.get(event));
    const facts: { index: number; fact: CountedFact }[] = [];
    const guarded = new Set<string>();
    for (const [index, event] of events.entries()) {
      const ref = refs[index];
      if (event.type === "Subscription" || isTestSend(event)) continue;
      if (!ref) {
        outcomes[index] = "unmatched";
        continue;
      }
      const fact = firstFact(event, ref, event.at ?? now);
      if (fact) facts.push({ index, fact });
      else outcomes[index] = await this.recordOther(event, ref, event.at ?? now);
      // Evaluated after duplicates too: a retried message whose first attempt failed after the
      // counter moved still gets its guard check.
      if (GUARDED.has(event.type)) guarded.add(ref.campaignId);
    }
    // Every open and click, each kept once (domain/engagement.ts), for reports and follow-ups.
    const engagement = events.flatMap((event, index) => {
      const ref = refs[index];
      const entry = ref ? engagementEntry(event, now) : undefined;
      return ref && entry ? [{ ref, entry }] : [];
    });
    if (engagement.length > 0) await this.deps.ledger.recordEngagement(engagement);
    const firsts = await this.deps.ledger.recordFirstAll(
      facts.map((f) => f.fact),
      (recorded) => this.countersOf(recorded),
    );
    facts.forEach(({ index }, i) => {
      outcomes[index] = firsts[i] as FeedbackOutcome;
    });
    for (const [index, event] of events.entries()) {
      const ref = refs[index];
      if (!ref || outcomes[index] === "ignored") continue;
      this.deps.onNotice?.({
        type: "recorded",
        eventType: event.type,
        first: outcomes[index] === "recorded",
        event,
        campaignId: ref.campaignId,
        email: ref.email,
      });
      const suppression = suppressionFor(event);
      if (!suppression) continue;
      const listId = await this.listIdOf(ref.campaignId);
      if (listId)
        await this.deps.subscribers.markFeedback(
          listId,
          ref.email,
          suppression.reason === "bounce" ? "bounced" : "complained",
          event.at ?? now,
        );
    }
    for (const campaignId of guarded) await this.guard(campaignId, now);
    return outcomes;
  }

  /** The counter writes for recorded facts: one per campaign, adding up its facts by counter. */
  private countersOf(recorded: readonly CountedFact[]) {
    const byCampaign = new Map<string, Partial<Record<FeedbackCounter, number>>>();
    for (const fact of recorded) {
      const counts = byCampaign.get(fact.ref.campaignId) ?? {};
      counts[fact.counter] = (counts[fact.counter] ?? 0) + 1;
      byCampaign.set(fact.ref.campaignId, counts);
    }
    return [...byCampaign].map(([campaignId, counts]) => this.deps.counters.increment(campaignId, counts));
  }

  /** Events recorded every time (no flag, no counter). */
  private async recordOther(event: FeedbackEvent, ref: LedgerRef, at: string): Promise<FeedbackOutcome> {
    const store = this.deps.ledger;
    switch (event.type) {
      case "Bounce":
        // Not permanent (firstFact takes those): SES gave up after retrying; recorded only.
        await store.recordAlways(ref, { lastBounceAt: at, ...bounceSets(event) });
        return "recorded";
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

function bounceSets(event: FeedbackEvent): Record<string, string> {
  const bounce = event.bounce;
  return {
    bounceType: bounce?.bounceType ?? "Undetermined",
    bounceSubType: bounce?.bounceSubType ?? "Undetermined",
    ...(bounce?.diagnostic ? { bounceDiagnostic: bounce.diagnostic } : {}),
  };
}

/** Whether an event is of a test send (POST /v1/campaigns/{id}/test): outside the ledger and counters. */
function isTestSend(event: FeedbackEvent): boolean {
  return event.mail.tags[TEST_SEND_TAG]?.[0] === "true";
}

/** The engagement entry of an Open or Click event. */
function engagementEntry(event: FeedbackEvent, now: string): string | undefined {
  if (event.type !== "Open" && event.type !== "Click") return undefined;
  return encodeEngagement({
    kind: event.type === "Open" ? "open" : "click",
    at: event.at ?? now,
    machineAgent: isMachineAgent(event.agent?.userAgent, event.agent?.ipAddress),
    ...(event.click?.link ? { link: event.click.link } : {}),
  });
}

/** The first-time fact an event records, if it is one (FIRST_TIME, and permanent bounces). */
function firstFact(event: FeedbackEvent, ref: LedgerRef, at: string): CountedFact | undefined {
  if (event.type === "Bounce") {
    if (event.bounce?.bounceType !== "Permanent") return undefined;
    return { ref, flag: "bouncedAt", at, sets: bounceSets(event), counter: "bounced" };
  }
  const firstTime = FIRST_TIME[event.type];
  if (!firstTime) return undefined;
  const sets: Record<string, string> = {};
  if (event.type === "Complaint" && event.complaint?.feedbackType)
    sets.complaintFeedbackType = event.complaint.feedbackType;
  if (event.type === "Click" && event.click?.link) sets.clickedLink = event.click.link;
  return { ref, flag: firstTime.flag, at, sets, counter: firstTime.counter };
}
