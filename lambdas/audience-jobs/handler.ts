import type { Context, SQSEvent } from "aws-lambda";
import { ListStore } from "../adapters/list-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { ImportStore } from "../adapters/import-store.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { requireEnv } from "../shared/env.ts";
import { logger, metrics, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { parseRecord, processBatch } from "../shared/sqs-batch.ts";
import { type AudienceJob, audienceJobSchema } from "../contracts/messages.ts";
import { ENV } from "../contracts/env.ts";
import { METRIC } from "../contracts/metrics.ts";
import { eraseLedgerOf } from "../usecases/erasure.ts";
import { type ConfirmationDeps, sendConfirmations } from "../usecases/opt-in.ts";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { importCompletedEvent, upsertEvents } from "../domain/webhook-event.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const audienceTable = requireEnv(ENV.audienceTable);
const lists = new ListStore(db, audienceTable);
const subscribers = new SubscriberStore(db, audienceTable);
const imports = new ImportStore(db, audienceTable);
const erasure = {
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable)),
  campaigns: new CampaignStore(db, audienceTable),
};
const queue = new QueuePublisher(sqs);
const webhooks = webhookPublisherFromEnv(db, queue);
const audienceJobsQueueUrl = requireEnv(ENV.audienceJobsQueueUrl);
/** What starting the confirmation campaigns of an import into a double opt-in list takes. */
const confirmations: ConfirmationDeps = {
  campaigns: erasure.campaigns,
  agenda: new CampaignAgendaStore(db, audienceTable),
  ledger: erasure.ledger,
  queue,
  fanoutQueueUrl: requireEnv(ENV.fanoutQueueUrl),
  ownership: ownershipFromEnv(db),
  subscribers,
  defaultFrom: requireEnv(ENV.defaultFromAddress),
};

/** Items erased per message before the rest continues in a new message. */
const ERASE_BATCH = 5_000;

/**
 * Audience jobs the API hands off: chunks of a CSV import (upserted by email, so a redelivered
 * chunk or a re-posted file never duplicates anyone) and the erasure of a deleted list (its
 * subscribers and their ledger items of the list's campaigns).
 */
export async function runJob(job: AudienceJob): Promise<void> {
  const now = new Date().toISOString();
  if (job.kind === "import-chunk") {
    // A list deleted while its import runs gets nothing more: its partition is being erased, and
    // rows that land after the deletion are erased again by the upsert itself.
    const list = await lists.get(job.listId, true);
    const upserted = list
      ? await subscribers.upsert(job.listId, job.subscribers, now, {
          consent: { source: "import", at: now, importId: job.jobId },
          pending: list.optIn === "double",
        })
      : undefined;
    const live = upserted?.kept === true;
    // New subscribers of a double opt-in list each get a confirmation email; a chunk delivered again
    // starts the same confirmation campaign, so nobody is mailed twice.
    if (list && live) await sendConfirmations(confirmations, list, upserted.awaiting, new Date(now));
    const events = live ? upsertEvents(job.listId, upserted, now, "import") : [];
    const finished = await imports.recordChunk(
      job.jobId,
      job.chunk,
      job.rows,
      live ? job.subscribers.length : 0,
      now,
    );
    if (finished) events.push(importCompletedEvent(job.jobId, finished, now));
    await webhooks.flush(events);
    metrics.addMetric(METRIC.subscribersImported, "Count", live ? job.subscribers.length : 0);
    return;
  }
  // A list that lives again under its id (never, with random ids) has nothing to erase.
  const done =
    (await lists.get(job.listId, true)) ||
    (await subscribers.erasePartition(job.listId, ERASE_BATCH, (emails) =>
      eraseLedgerOf(erasure, job.listId, emails),
    ));
  if (done) {
    await lists.finishErasure(job.listId);
    return;
  }
  await queue.send(audienceJobsQueueUrl, job);
  await lists.markErasureEnqueued(job.listId, now);
}

export const handler = traceHandler(async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await processBatch(
      event,
      (record) => runJob(parseRecord(record, audienceJobSchema, "audience job")),
      { sqs, queueUrl: audienceJobsQueueUrl },
    );
  } finally {
    publishMetrics();
  }
});
