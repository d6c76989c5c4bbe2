import { randomUUID } from "node:crypto";
import type { Context, SQSEvent } from "aws-lambda";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { type FanoutMessage, fanoutMessageSchema, RECIPIENTS_PER_MESSAGE } from "../contracts/messages.ts";
import { chunk } from "../shared/concurrency.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, metrics, traceHandler } from "../shared/powertools.ts";
import { PoisonMessageError, parseRecord, processBatch, RetryLaterError } from "../shared/sqs-batch.ts";
import { ENV } from "../contracts/env.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { type Standing, StandingCache } from "../usecases/campaign-ownership.ts";
import { METRIC } from "../contracts/metrics.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const campaigns = new CampaignStore(db, requireEnv(ENV.audienceTable));
const subscribers = new SubscriberStore(db, requireEnv(ENV.audienceTable));
const ledger = new LedgerStore(
  db,
  requireEnv(ENV.ledgerTable),
  numberEnv(ENV.ledgerRetentionDays, 90) * 86_400,
);
const queue = new QueuePublisher(sqs);
const standings = new StandingCache(ownershipFromEnv(db));
const sendQueueUrl = requireEnv(ENV.sendQueueUrl);
const fanoutQueueUrl = requireEnv(ENV.fanoutQueueUrl);

/** Subscribers read per page; one checkpoint per page. */
const PAGE_SIZE = numberEnv(ENV.fanoutPageSize, 1000);
/** A fan-out worker's hold on a campaign, renewed at every page; far longer than a page takes. */
const LEASE_MS = Number(requireEnv(ENV.fanoutLeaseSeconds)) * 1000;
/** Stop taking new pages when less than this is left of the invocation, and continue in a new one. */
const RESERVE_MS = 30_000;

/**
 * Fan-out: pages a campaign's list, writes a `queued` ledger item per subscribed recipient and send
 * messages of up to 50 recipients, and only then advances the checkpoint. A crash or redelivery
 * resumes from the last checkpoint: recipients of the interrupted page get their (existing) ledger
 * item and a send message again, which the sender's ledger claim makes harmless.
 */
export async function fanOut(message: FanoutMessage, remainingMs: () => number): Promise<void> {
  const campaign = await campaigns.get(message.campaignId, true);
  if (!campaign) throw new PoisonMessageError("unknown campaign");
  if (!(await mayFanOut(message.campaignId))) return;
  if (campaign.fanoutDone || campaign.status === "draft" || campaign.status === "cancelled") return;
  const now = () => new Date().toISOString();
  if (campaign.status === "queued") await campaigns.transition(campaign.id, "begin", now());
  const owner = randomUUID();
  let cursor = campaign.fanoutCursor;
  // The next page is read while the current one is written: reading is cheap, writing is the work.
  const read = (after: string | undefined) => {
    const page = subscribers.pageForFanout(campaign.listId, after, PAGE_SIZE);
    page.catch(() => undefined); // awaited below; never an unhandled rejection if we stop early
    return page;
  };
  let nextPage = read(cursor);
  for (;;) {
    const pageKey = cursor ?? "START";
    // Every page: a region that lost the campaign to another stops here.
    const standing = await standings.get(campaign.id);
    if (!(await mayFanOut(campaign.id, standing))) return;
    const leaseTakenAt = Date.now();
    const lease = await campaigns.fanout.startPage(campaign.id, owner, pageKey, leaseTakenAt, LEASE_MS);
    if (!lease.acquired) {
      // Another worker holds the campaign. Come back after its lease: if it died, this message
      // takes over from the checkpoint; if it finished, there is nothing left to do.
      throw new RetryLaterError("another fan-out worker holds the campaign", Math.ceil(LEASE_MS / 1000));
    }
    const page = await nextPage;
    if (page.next) nextPage = read(page.next);
    const recipients = page.subscribers
      .filter((s) => s.status === "subscribed")
      .map((s) => ({ email: s.email, attributes: s.attributes }));
    const emails = recipients.map((r) => r.email);
    // A page started before (this worker's predecessor died in it) may have items already, which
    // senders may have moved on: only conditional writes there. A fresh page has none: batch writes,
    // which cannot be conditional. The fence: batch writes only on a campaign never taken over
    // (another region's items may not have replicated yet) and only early in this worker's lease,
    // so a worker that stalled and lost its lease cannot overwrite `sent` items with `queued`.
    const fresh =
      lease.previousPage !== pageKey && epochOf(standing) <= 1 && Date.now() - leaseTakenAt < LEASE_MS / 2;
    const created = fresh
      ? await ledger.createQueuedFresh(campaign.id, emails, Date.now())
      : await ledger.createQueued(campaign.id, emails, Date.now());
    await queue.sendAll(
      sendQueueUrl,
      chunk(recipients, RECIPIENTS_PER_MESSAGE).map((group) => ({
        campaignId: campaign.id,
        recipients: group,
      })),
    );
    const advanced = await campaigns.fanout.advance(campaign.id, cursor, page.next, now());
    metrics.addMetric(METRIC.recipientsQueued, "Count", created);
    if (!advanced) {
      logger.info("another fan-out worker moved the checkpoint; leaving the campaign to it", {
        campaignId: campaign.id,
      });
      return;
    }
    if (!page.next) {
      logger.info("fan-out complete", { campaignId: campaign.id });
      return;
    }
    cursor = page.next;
    if (remainingMs() < RESERVE_MS) {
      // Let go first, so the next invocation starts at once; a crash in between leaves no lease
      // and an idle checkpoint, which the scheduler's watch picks up.
      await campaigns.fanout.release(campaign.id, owner);
      await queue.send(fanoutQueueUrl, { campaignId: campaign.id } satisfies FanoutMessage);
      logger.info("fan-out continues in a new invocation", { campaignId: campaign.id });
      return;
    }
  }
}

/**
 * Whether this region fans the campaign out: only its owner does. Another region's campaign is left
 * to it (the message is done); an owner that could not renew its lease tries again later.
 */
async function mayFanOut(campaignId: string, known?: Standing): Promise<boolean> {
  const standing = known ?? (await standings.get(campaignId));
  if (standings.acts(standing)) return true;
  if (standing.kind === "lapsed") throw new RetryLaterError("could not renew the campaign's owner lease", 30);
  logger.info("another region owns the campaign: fan-out left to it", { campaignId });
  return false;
}

const epochOf = (standing: Standing) => (standing.kind === "unowned" ? 1 : standing.record.epoch);

export const handler = traceHandler(async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await processBatch(
      event,
      (record) =>
        fanOut(parseRecord(record, fanoutMessageSchema, "fan-out"), () => context.getRemainingTimeInMillis()),
      {
        sqs,
        queueUrl: fanoutQueueUrl,
      },
    );
  } finally {
    metrics.publishStoredMetrics();
  }
});
