import type { BudgetView, SenderBudgetStore } from "../adapters/sender-budget-store.ts";
import type { SesSender } from "../adapters/ses-sender.ts";

/** A check-in lasts this long: a sender that stopped (no work, or crashed) stops counting after it. */
export const CHECK_IN_MS = 4_000;
/** A sending sender checks in again this often. */
const REFRESH_MS = 1_000;
/** A learned rate older than this is not adopted: the quota may have changed since. */
const LEARNED_FRESH_MS = 10 * 60_000;

/**
 * The region's sending budget, shared by its concurrent senders (SenderBudgetStore): how many are
 * sending divides the region's rate between them, so that one sender alone uses all of it and two
 * never use more; and the rate one of them learned from a 429 (or found again while probing) is
 * published for all, so that the others, and containers started later, hold just under it from
 * their first send instead of each finding it with 429s of its own. A failure to reach the store
 * keeps the last view: the budget shapes the pace, the 429s still bound it.
 */
export class SharedBudget {
  private view: (BudgetView & { expired: string[] }) | undefined;
  /** The per-sender ceiling last adopted from, or published to, the region. */
  private shared: number | undefined;
  /** Senders in the view before the last: fewer senders count only once two views agree. */
  private previousSenders: number;
  /** The senders this one's share is divided by now. */
  private divisor: number;

  constructor(
    private readonly store: Pick<SenderBudgetStore, "checkIn">,
    private readonly ses: Pick<SesSender, "setSenders" | "homeCeiling" | "adoptHomeCeiling">,
    private readonly sender: string,
    /** Assumed until the views show otherwise: the configured concurrency. */
    initialSenders: number,
    private readonly now: () => number = Date.now,
  ) {
    this.previousSenders = initialSenders;
    this.divisor = initialSenders;
  }

  /** Checks in (at the start of an invocation, then every REFRESH_MS while it sends). */
  async refresh(): Promise<void> {
    const now = this.now();
    const local = this.ses.homeCeiling();
    // What this sender learned (or found again by probing) since it last adopted the region's
    // rate, with the time of the 429 it was learned from: a probe does not restart the hold.
    const learned =
      local !== undefined && (this.shared === undefined || Math.abs(local.rate / this.shared - 1) > 0.005)
        ? { rate: local.rate * this.divisor, at: local.at }
        : undefined;
    let view: BudgetView & { expired: string[] };
    try {
      view = await this.store.checkIn(this.sender, now, now + CHECK_IN_MS, {
        ...(learned ? { learned } : {}),
        expired: this.view?.expired ?? [],
      });
    } catch {
      return;
    }
    this.view = view;
    // More senders take effect at once; fewer only once two views a refresh apart agree, so that
    // a sender that joined a moment ago, unseen by others yet, does not make this one speed up.
    const senders = Math.max(view.senders, this.previousSenders);
    this.previousSenders = view.senders;
    this.divisor = senders;
    this.ses.setSenders(senders);
    if (view.learned && now - view.learned.at < LEARNED_FRESH_MS) {
      this.shared = view.learned.rate / senders;
      this.ses.adoptHomeCeiling(this.shared, view.learned.at);
    }
  }

  /** Refreshes every REFRESH_MS until the returned function is called. */
  keepFresh(): () => void {
    const timer = setInterval(() => void this.refresh(), REFRESH_MS);
    timer.unref?.();
    return () => clearInterval(timer);
  }
}
