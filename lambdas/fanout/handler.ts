import { randomUUID } from "node:crypto";
import type { Context, SQSEvent } from "aws-lambda";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { SegmentStore } from "../adapters/segment-store.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { type FanoutMessage, fanoutMessageSchema } from "../contracts/messages.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { PoisonMessageError, parseRecord, processBatch, RetryLaterError } from "../shared/sqs-batch.ts";
import { ENV } from "../contracts/env.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { StandingCache } from "../usecases/campaign-ownership.ts";
import { freezeAudience } from "../usecases/campaign-audience.ts";
import { mayFanOut } from "./fanout-owner.ts";
import { SliceWriter } from "./slice-writer.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const queue = new QueuePublisher(sqs);
const campaigns = new CampaignStore(
  db,
  requireEnv(ENV.audienceTable),
  webhookPublisherFromEnv(db, queue).transitions(),
);
const subscribers = new SubscriberStore(db, requireEnv(ENV.audienceTable));
const segments = new SegmentStore(db, requireEnv(ENV.audienceTable));
const standings = new StandingCache(ownershipFromEnv(db));
const fanoutQueueUrl = requireEnv(ENV.fanoutQueueUrl);

/** Subscribers a slice holds: the unit that fan-out workers write side by side. */
const SLICE_SIZE = numberEnv(ENV.fanoutSliceSize, 10_000);
/** A fan-out worker's hold on the list or a slice, renewed at every cut or page; far longer than one takes. */
const LEASE_MS = Number(requireEnv(ENV.fanoutLeaseSeconds)) * 1000;
/** Stop taking new work when less than this is left of the invocation, and continue in a new one. */
const RESERVE_MS = 30_000;

const retentionDays = numberEnv(ENV.ledgerRetentionDays, 90);
const slices = new SliceWriter({
  campaigns,
  subscribers,
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable), retentionDays * 86_400),
  retentionDays,
  queue,
  standings,
  sendQueueUrl: requireEnv(ENV.sendQueueUrl),
  fanoutQueueUrl,
  pageSize: numberEnv(ENV.fanoutPageSize, 1000),
  leaseMs: LEASE_MS,
  reserveMs: RESERVE_MS,
});

/**
 * Fan-out, in two parts that scale out. The reader (a message without `slice`) cuts the campaign's
 * list into slices of SLICE_SIZE subscribers by key range, reading keys only, and enqueues a
 * message per slice; slice workers (SliceWriter), as many as the queue's concurrency allows, write
 * the ledger items and send messages of their slices side by side. The reader records each cut on
 * the campaign's control item after the slice exists and its message is sent, so a crash cuts the
 * same slice again (harmless: the slice item is created once, its lease lets one worker write it).
 * The fan-out is done when the reader reached the end and every slice is done.
 */
export async function fanOut(message: FanoutMessage, remainingMs: () => number): Promise<void> {
  if (message.slice) return slices.write(message.campaignId, message.slice, remainingMs);
  const campaign = await campaigns.get(message.campaignId, true);
  if (!campaign) throw new PoisonMessageError("unknown campaign");
  if (!(await mayFanOut(standings, campaign.id))) return;
  if (campaign.fanoutDone || campaign.status === "draft" || campaign.status === "cancelled") return;
  const now = () => new Date().toISOString();
  if (campaign.status === "queued") await campaigns.transition(campaign.id, "begin", now());
  if (campaign.recipients) return slices.writeRecipients({ ...campaign, recipients: campaign.recipients });
  // Who the campaign is for is fixed before the first slice: every slice applies the same segments.
  await freezeAudience({ campaigns, segments }, campaign);
  let run = campaign.fanoutRun;
  if (!campaign.fanoutRead) {
    const owner = randomUUID();
    let cursor = campaign.fanoutCursor;
    let cut = campaign.fanoutSlices ?? 0;
    for (;;) {
      // Every cut: a region that lost the campaign to another stops here.
      if (!(await mayFanOut(standings, campaign.id))) return;
      const lease = await campaigns.fanout.startPage(
        campaign.id,
        owner,
        cursor ?? "START",
        Date.now(),
        LEASE_MS,
        run ?? randomUUID(),
      );
      if (!lease.acquired || !lease.run) {
        // Another reader holds the list. Come back after its lease: if it died, this message goes on
        // from its last cut; if it finished, there is nothing left to do.
        throw new RetryLaterError("another fan-out reader holds the campaign", Math.ceil(LEASE_MS / 1000));
      }
      run = lease.run;
      const next = await subscribers.fanout.cut(campaign.listId, cursor, SLICE_SIZE);
      if (next.last) {
        const range = { ...(cursor ? { after: cursor } : {}), last: next.last };
        await campaigns.fanout.slices.create(campaign.id, run, cut, range, new Date());
        await queue.send(fanoutQueueUrl, {
          campaignId: campaign.id,
          slice: { run, n: cut },
        } satisfies FanoutMessage);
      }
      const cuts = next.last ? cut + 1 : cut;
      const end = !next.more || !next.last;
      if (!(await campaigns.fanout.cut(campaign.id, cursor, next.last, cuts, end, now()))) {
        logger.info("another fan-out reader moved the checkpoint; leaving the campaign to it", {
          campaignId: campaign.id,
        });
        return;
      }
      cut = cuts;
      cursor = next.last ?? cursor;
      if (end) {
        logger.info("fan-out: the list is cut into slices", { campaignId: campaign.id, slices: cut });
        break;
      }
      if (remainingMs() < RESERVE_MS) {
        await campaigns.fanout.release(campaign.id, owner);
        await queue.send(fanoutQueueUrl, { campaignId: campaign.id } satisfies FanoutMessage);
        logger.info("fan-out reading continues in a new invocation", { campaignId: campaign.id });
        return;
      }
    }
  }
  if (run) await slices.finishIfDone(campaign.id, run);
}

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
    publishMetrics();
  }
});
