import { randomUUID } from "node:crypto";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import { type FanoutMessage, RECIPIENTS_PER_MESSAGE } from "../contracts/messages.ts";
import { METRIC } from "../contracts/metrics.ts";
import type { Campaign } from "../domain/campaign.ts";
import { inAudience, type SegmentSubject } from "../domain/segment.ts";
import { chunk } from "../shared/concurrency.ts";
import { logger, metrics } from "../shared/powertools.ts";
import { PoisonMessageError, RetryLaterError } from "../shared/sqs-batch.ts";
import type { Standing, StandingCache } from "../usecases/campaign-ownership.ts";
import { type EngagementDeps, EngagementReader } from "../usecases/segment-engagement.ts";
import { mayFanOut } from "./fanout-owner.ts";

export interface SliceWriterDeps extends EngagementDeps {
  readonly campaigns: CampaignStore;
  readonly subscribers: SubscriberStore;
  readonly ledger: LedgerStore;
  readonly queue: QueuePublisher;
  readonly standings: StandingCache;
  readonly sendQueueUrl: string;
  readonly fanoutQueueUrl: string;
  /** Subscribers read per page; one checkpoint per page. */
  readonly pageSize: number;
  /** A worker's hold on a slice, renewed at every page. */
  readonly leaseMs: number;
  /** Stop taking new pages when less than this is left of the invocation. */
  readonly reserveMs: number;
}

/**
 * Writes one slice of a campaign's fan-out: pages the slice's range of the list, writes a `queued`
 * ledger item per subscribed recipient and send messages of up to 50 recipients, and only then
 * advances the slice's checkpoint. A crash or redelivery resumes from the last checkpoint:
 * recipients of the interrupted page get their (existing) ledger item and a send message again,
 * which the sender's ledger claim makes harmless.
 */
export class SliceWriter {
  constructor(private readonly deps: SliceWriterDeps) {}

  async write(
    campaignId: string,
    slice: { run: string; n: number },
    remainingMs: () => number,
  ): Promise<void> {
    const { campaigns, subscribers, ledger, queue, standings } = this.deps;
    const campaign = await campaigns.get(campaignId, true);
    if (!campaign) throw new PoisonMessageError("unknown campaign");
    if (!(await mayFanOut(this.deps.standings, campaignId))) return;
    if (campaign.fanoutDone || campaign.status === "draft" || campaign.status === "cancelled") return;
    if (campaign.fanoutRun !== slice.run) {
      // A takeover began a new run, which cuts the list again: this slice is not part of it.
      logger.info("fan-out slice of an earlier run left alone", { campaignId, slice: slice.n });
      return;
    }
    const found = await campaigns.fanout.slices.get(campaignId, slice.run, slice.n);
    if (!found) throw new PoisonMessageError("unknown fan-out slice");
    if (found.done) return this.finishIfDone(campaignId, slice.run);
    const owner = randomUUID();
    const engagement = new EngagementReader(this.deps, campaign.audience, Date.now());
    let cursor = found.cursor;
    // The next page is read while the current one is written: reading is cheap, writing is the work.
    const read = (after: string | undefined) => {
      const page = subscribers.fanout.page(campaign.listId, after, found.last, this.deps.pageSize);
      page.catch(() => undefined); // awaited below; never an unhandled rejection if we stop early
      return page;
    };
    let nextPage = read(cursor ?? found.after);
    for (;;) {
      const pageKey = cursor ?? "START";
      // Every page: a region that lost the campaign to another stops here.
      const standing = await standings.get(campaignId);
      if (!(await mayFanOut(this.deps.standings, campaignId, standing))) return;
      const leaseTakenAt = Date.now();
      const lease = await campaigns.fanout.slices.startPage(
        campaignId,
        slice.run,
        slice.n,
        owner,
        pageKey,
        leaseTakenAt,
        this.deps.leaseMs,
      );
      if (!lease.acquired) {
        // Another worker holds the slice. Come back after its lease: if it died, this message takes
        // over from the checkpoint; if it finished, there is nothing left to do.
        throw new RetryLaterError(
          "another fan-out worker holds the slice",
          Math.ceil(this.deps.leaseMs / 1000),
        );
      }
      const page = await nextPage;
      if (page.next) nextPage = read(page.next);
      const recipients = (await this.audienceOf(campaign, page.subscribers, engagement)).map((s) => ({
        email: s.email,
        attributes: s.attributes,
      }));
      const emails = recipients.map((r) => r.email);
      // A page started before (this worker's predecessor died in it) may have items already, which
      // senders may have moved on: only conditional writes there. A fresh page has none: batch
      // writes, which cannot be conditional. The fence: batch writes only on a campaign never taken
      // over (another region's items may not have replicated yet) and only early in this worker's
      // lease, so a worker that stalled and lost its lease cannot overwrite `sent` items with `queued`.
      const fresh =
        lease.previousPage !== pageKey &&
        epochOf(standing) <= 1 &&
        Date.now() - leaseTakenAt < this.deps.leaseMs / 2;
      const created = fresh
        ? await ledger.createQueuedFresh(campaignId, emails, Date.now())
        : await ledger.createQueued(campaignId, emails, Date.now());
      await queue.sendAll(
        this.deps.sendQueueUrl,
        chunk(recipients, RECIPIENTS_PER_MESSAGE).map((group) => ({ campaignId, recipients: group })),
      );
      const now = new Date().toISOString();
      const advanced = await campaigns.fanout.slices.advance(
        campaignId,
        slice.run,
        slice.n,
        cursor,
        page.next,
        now,
      );
      metrics.addMetric(METRIC.recipientsQueued, "Count", created);
      if (!advanced) {
        logger.info("another fan-out worker moved the slice's checkpoint; leaving it to it", {
          campaignId,
          slice: slice.n,
        });
        return;
      }
      if (!page.next) return this.finishIfDone(campaignId, slice.run);
      cursor = page.next;
      if (remainingMs() < this.deps.reserveMs) {
        // Let go first, so the next invocation starts at once; a crash in between leaves no lease
        // and an idle slice, which the scheduler's watch picks up.
        await campaigns.fanout.slices.release(campaignId, slice.run, slice.n, owner);
        await queue.send(this.deps.fanoutQueueUrl, { campaignId, slice } satisfies FanoutMessage);
        logger.info("fan-out slice continues in a new invocation", { campaignId, slice: slice.n });
        return;
      }
    }
  }

  /**
   * The subscribers of a page the campaign is for: subscribed, in its segment and in none of its
   * excluded segments (as the fan-out fixed them when it started), and on none of its excluded lists.
   */
  private async audienceOf<T extends SegmentSubject & { email: string }>(
    campaign: Campaign,
    subscribers: readonly T[],
    engagement: EngagementReader,
  ): Promise<T[]> {
    const audience = campaign.audience;
    const subscribed = await engagement.load(subscribers.filter((s) => s.status === "subscribed"));
    const chosen = subscribed.filter((s) => inAudience(audience, s, engagement.nowMs));
    if (!audience || audience.excludeListIds.length === 0 || chosen.length === 0) return chosen;
    const excluded = new Set<string>();
    for (const listId of audience.excludeListIds) {
      const found = await this.deps.subscribers.subscribersOf(
        listId,
        chosen.map((s) => s.email),
      );
      for (const subscriber of found) excluded.add(subscriber.email);
    }
    return chosen.filter((s) => !excluded.has(s.email));
  }

  /**
   * The fan-out of a campaign that names its recipients (a confirmation campaign, at most a few
   * hundred): a `queued` ledger item each, their send messages (with the attributes they have now),
   * then done. Repeating it after a crash is harmless, as for a page of a slice.
   */
  async writeRecipients(campaign: Campaign & { recipients: readonly string[] }): Promise<void> {
    const { campaigns, subscribers, ledger, queue } = this.deps;
    const found = new Map(
      (await subscribers.subscribersOf(campaign.listId, campaign.recipients)).map((s) => [s.email, s]),
    );
    await ledger.createQueued(campaign.id, campaign.recipients, Date.now());
    for (const part of chunk(campaign.recipients, RECIPIENTS_PER_MESSAGE)) {
      await queue.send(this.deps.sendQueueUrl, {
        campaignId: campaign.id,
        recipients: part.map((email) => ({ email, attributes: found.get(email)?.attributes ?? {} })),
      });
    }
    await campaigns.fanout.finishRecipients(campaign.id, new Date().toISOString());
    logger.info("fan-out complete", { campaignId: campaign.id, recipients: campaign.recipients.length });
  }

  /**
   * Marks the fan-out done once the reader reached the list's end and every slice of the run is
   * done. Each slice's worker calls it after its slice, and the reader after its last cut: with
   * strongly consistent reads, whichever looks last sees every slice done.
   */
  async finishIfDone(campaignId: string, run: string): Promise<void> {
    const all = await this.deps.campaigns.fanout.slices.list(campaignId, run);
    if (all.some((s) => !s.done)) return;
    const finished = await this.deps.campaigns.fanout.finish(
      campaignId,
      run,
      all.length,
      new Date().toISOString(),
    );
    if (!finished) return;
    logger.info("fan-out complete", { campaignId, slices: all.length });
    await this.deps.campaigns.fanout.slices.removeRun(campaignId, run);
  }
}

const epochOf = (standing: Standing) => (standing.kind === "unowned" ? 1 : standing.record.epoch);
