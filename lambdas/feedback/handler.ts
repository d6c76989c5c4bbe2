import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { parseFeedbackMessage } from "../domain/feedback-event.ts";
import { feedbackWebhookEvent } from "../domain/webhook-event.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { WebhookOutbox, webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { requireEnv } from "../shared/env.ts";
import { logger, metrics, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { backoffSeconds, processBatch, RetryLaterError } from "../shared/sqs-batch.ts";
import { type FeedbackOutcome, FeedbackProcessor } from "./process.ts";
import { ENV } from "../contracts/env.ts";
import { METRIC } from "../contracts/metrics.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const queueUrl = requireEnv(ENV.feedbackQueueUrl);
const deadLetterQueueUrl = requireEnv(ENV.feedbackDlqUrl);
const audienceTable = requireEnv(ENV.audienceTable);
const region = requireEnv("AWS_REGION");
const webhooks = webhookPublisherFromEnv(db, new QueuePublisher(sqs));
/** Webhook events of the facts recorded, published as they come and all by the batch's end. */
const webhookEvents = new WebhookOutbox(webhooks);

/**
 * SES sometimes reports a message before its ledger record is here: a Send event follows SES's
 * acceptance within milliseconds, and a send that failed over to this region's SES was recorded in
 * the sending region, whose write reaches this replica a replication lag later. An unknown id is
 * retried, first after 1 s and then with doubling backoff (1, 1–2, 2–4, … 16–32 s: 32 to 63 s in
 * all), before it is counted as unmatched (a message from outside Steadfast, an expired ledger
 * item, or the documented duplicate window) and dropped. The short first waits keep the counters,
 * and the reputation guard that reads them, about a replication lag behind the sends; the long
 * last ones ride out replication falling behind. Below the queue's maxReceiveCount (10).
 */
const UNMATCHED_RECEIVES = 7;
const UNMATCHED_BACKOFF = { baseSeconds: 1, capSeconds: 60 } as const;

const processor = new FeedbackProcessor({
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable)).feedback,
  campaigns: new CampaignStore(db, audienceTable, webhooks.transitions()),
  counters: new CampaignCounterStore(db, audienceTable, requireEnv("AWS_REGION")),
  agenda: new CampaignAgendaStore(db, audienceTable),
  ownership: ownershipFromEnv(db),
  subscribers: new SubscriberStore(db, audienceTable),
  suppressions: new SuppressionStore(db, audienceTable),
  now: () => new Date(),
  onNotice: (notice) => {
    switch (notice.type) {
      case "suppressed":
        metrics.addMetric(
          notice.reason === "bounce" ? METRIC.hardBounces : METRIC.complaints,
          "Count",
          notice.count,
        );
        break;
      case "paused":
        // The ReputationPause alarm watches this metric.
        logger.warn("reputation guard tripped", {
          campaignId: notice.campaignId,
          reason: notice.reason,
          paused: notice.paused,
        });
        metrics.addMetric(METRIC.reputationPause, "Count", 1);
        break;
      case "recorded": {
        if (!notice.first) metrics.addMetric(METRIC.feedbackDuplicate, "Count", 1);
        // Duplicates too: a batch retried after a crash publishes what it may not have (same ids).
        const event = feedbackWebhookEvent(notice.event, notice.campaignId, notice.email, region);
        if (event) webhookEvents.add(event);
        break;
      }
    }
  },
});

/**
 * An event that can never be processed goes straight to the DLQ (where its alarm fires) instead of
 * blocking the queue for maxReceiveCount rounds; the rest of the batch carries on.
 */
async function deadLetter(record: SQSRecord, reason: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: deadLetterQueueUrl,
      MessageBody: record.body,
      MessageAttributes: { reason: { DataType: "String", StringValue: reason.slice(0, 256) } },
    }),
  );
  logger.warn("unparseable feedback event sent to the DLQ", { messageId: record.messageId, reason });
  metrics.addMetric(METRIC.feedbackInvalid, "Count", 1);
}

/** One record's part in its batch: the batch's events are processed together (processAll). */
type Parsed = ReturnType<typeof parseFeedbackMessage>;

/** One record's part in its batch: the batch's events are processed together (processEvents). */
async function handleRecord(record: SQSRecord, batch: ReadonlyMap<string, BatchEntry>): Promise<void> {
  const entry = batch.get(record.messageId);
  if (!entry?.parsed.ok)
    return deadLetter(record, entry?.parsed.ok === false ? entry.parsed.error : "not parsed");
  const outcome = await entry.outcome;
  if (outcome === "unmatched") {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    if (receiveCount < UNMATCHED_RECEIVES) {
      throw new RetryLaterError(
        "no ledger item for this SES message id yet",
        backoffSeconds(receiveCount, UNMATCHED_BACKOFF.baseSeconds, UNMATCHED_BACKOFF.capSeconds),
      );
    }
    logger.info("feedback for an unknown SES message dropped", { eventType: entry.parsed.event.type });
    metrics.addMetric(METRIC.feedbackUnmatched, "Count", 1);
  }
}

interface BatchEntry {
  readonly parsed: Parsed;
  /** Its outcome, once the batch's valid events are processed; undefined for an invalid one. */
  readonly outcome?: Promise<FeedbackOutcome>;
}

/** Parses the batch once and starts processing its valid events together, by SQS message id. */
function processEvents(records: readonly SQSRecord[]): Map<string, BatchEntry> {
  const parsed = records.map((record) => ({ record, parsed: parseFeedbackMessage(record.body) }));
  const valid = parsed.flatMap((p) => (p.parsed.ok ? [p.parsed.event] : []));
  const all = processor.processAll(valid);
  all.catch(() => undefined); // every record awaits it: its failure fails them all
  let i = 0;
  return new Map(
    parsed.map(({ record, parsed: p }) => {
      const index = p.ok ? i++ : -1;
      const outcome = p.ok ? all.then((outcomes) => outcomes[index] as FeedbackOutcome) : undefined;
      return [record.messageId, { parsed: p, ...(outcome ? { outcome } : {}) }];
    }),
  );
}

export const handler = traceHandler(async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    // The batch's events are written together, a few transactions for the lot; a write that fails
    // fails every record of the batch, which comes back (duplicates of what was done change nothing).
    const batch = processEvents(event.Records);
    const result = await processBatch(event, (record) => handleRecord(record, batch), {
      sqs,
      queueUrl,
      concurrent: true,
    });
    // All published by now, or the whole batch fails and comes back: its events are then
    // duplicates, and each publishes its webhook event again (the same ids).
    await webhookEvents.drain();
    return result;
  } finally {
    publishMetrics();
  }
});
