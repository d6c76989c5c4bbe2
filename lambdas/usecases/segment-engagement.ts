import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import { type CampaignAudience, engagementNeeds, type SegmentSubject } from "../domain/segment.ts";

export interface EngagementDeps {
  readonly ledger: Pick<LedgerStore, "engagementOf">;
  readonly campaigns: Pick<CampaignStore, "idsCreatedSince">;
  /** How long the ledger keeps a recipient's record: how far back "any campaign" can look. */
  readonly retentionDays: number;
}

/** Campaigns created this long before an engagement test's window may still have events in it. */
const SENT_BEFORE_WINDOW_DAYS = 30;

/**
 * Gives subscribers their ledger records for an audience's engagement tests, page by page (the
 * fan-out's pages, a preview's): the campaigns the tests name, and for tests that name none every
 * campaign created in their window (or 30 days before it, for late opens), read once per reader.
 * A page costs one BatchGet per 100 (campaign, address) pairs; an audience without engagement
 * tests reads nothing.
 */
export class EngagementReader {
  private campaignIds: Promise<string[]> | undefined;

  constructor(
    private readonly deps: EngagementDeps,
    private readonly audience: CampaignAudience | undefined,
    /** When `withinDays` counts back from. */
    readonly nowMs: number,
  ) {}

  async load<T extends SegmentSubject & { readonly email: string }>(page: readonly T[]): Promise<T[]> {
    const needs = engagementNeeds(this.audience);
    if (!needs || page.length === 0) return [...page];
    this.campaignIds ??= this.campaignsFor(needs);
    const records = await this.deps.ledger.engagementOf(
      await this.campaignIds,
      page.map((s) => s.email),
    );
    return page.map((s) => ({ ...s, engagement: records.get(s.email) ?? [] }));
  }

  private async campaignsFor(needs: NonNullable<ReturnType<typeof engagementNeeds>>): Promise<string[]> {
    const ids = new Set(needs.campaignIds);
    if (needs.anyWithinDays !== undefined) {
      const days = Math.min(needs.anyWithinDays + SENT_BEFORE_WINDOW_DAYS, this.deps.retentionDays);
      const since = new Date(this.nowMs - days * 86_400_000).toISOString();
      for (const id of await this.deps.campaigns.idsCreatedSince(since)) ids.add(id);
    }
    return [...ids];
  }
}
