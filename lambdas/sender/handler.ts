import { randomUUID } from "node:crypto";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { StandingCache } from "../usecases/campaign-ownership.ts";
import { createDocumentClient, createSesClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { SesSender } from "../adapters/ses-sender.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { SenderBudgetStore } from "../adapters/sender-budget-store.ts";
import { SharedBudget } from "./shared-budget.ts";
import { throttledRetrySeconds } from "../domain/rate-controller.ts";
import { type SendMessage, type SendRecipient, sendMessageSchema } from "../contracts/messages.ts";
import { sendTests } from "./test-send.ts";
import { outcomeEvent, type RecipientOutcome } from "../domain/webhook-event.ts";
import { WebhookOutbox, webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { cachedSecret, nonEmpty } from "../adapters/cached-secret.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { correlate, correlation, withCorrelation } from "../shared/correlation.ts";
import { logger, metrics, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { backoffSeconds, parseRecord, processBatch } from "../shared/sqs-batch.ts";
import { configureUnsubscribeLinks, unsubscribeLinks } from "./compose.ts";
import { Delivery } from "./deliver.ts";
import type { RecipientResult } from "./delivery-contract.ts";
import { ENV } from "../contracts/env.ts";
import { ledgerKey } from "../adapters/dynamo/keys.ts";
import { emailHash } from "../shared/email-hash.ts";
import { pauseCampaign } from "../usecases/campaign-workflows.ts";
import { METRIC } from "../contracts/metrics.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const queue = new QueuePublisher(sqs);
const sendQueueUrl = requireEnv(ENV.sendQueueUrl);
const regions = requireEnv(ENV.sesRegions)
  .split(",")
  .map((r) => r.trim())
  .filter(Boolean);
/** Longest wait before a retry: after an outage, sending resumes within this long. */
const maxRetryDelaySeconds = numberEnv(ENV.retryMaxDelaySeconds, 60);
/**
 * An invocation is time-boxed: it claims a recipient only while this much of it is left (to send
 * it and record it through a DynamoDB outage of ten seconds or so: a record given up on is a
 * possible duplicate), and it stops this long before its timeout to put back what it did not take
 * and answer. With the sender's 20 s timeout, claims are taken in the first 6 s.
 */
const CLAIM_RESERVE_MS = 12_000;
/** Tries of a test send SES could not take (throttled, or unavailable in every region). */
const TEST_ATTEMPTS = 5;
const FINISH_RESERVE_MS = 2_000;

const ses = new SesSender(
  regions.map((region) => ({ region, client: createSesClient(region) })),
  requireEnv(ENV.sesConfigurationSet),
  {
    maxSendRate: numberEnv(ENV.maxSendRate, 14),
    concurrency: numberEnv(ENV.senderConcurrency, 2),
    mode: process.env[ENV.sendMode] === "spread" ? "spread" : "failover",
    cooldownMs: numberEnv(ENV.breakerCooldownSeconds, 5) * 1000,
    onEvent: (event) => {
      switch (event.type) {
        case "breaker":
          logger.warn("SES circuit breaker changed", { ...correlation(), ...event });
          metrics.addMetric(
            event.to === "open" ? METRIC.breakerOpened : METRIC.breakerTransition,
            "Count",
            1,
          );
          break;
        case "failover":
          logger.info("sent through another region", { ...correlation(), ...event });
          metrics.addMetric(METRIC.failoverUsed, "Count", 1);
          break;
        case "throttled":
          metrics.addMetric(METRIC.throttled, "Count", 1);
          break;
        case "quota":
          logger.info("SES quota read", { ...correlation(), ...event });
          break;
        case "unknown-outcome":
          // What the call failed with (no address in it: SES errors name none).
          logger.warn("SES call failed after it may have been sent", { ...correlation(), ...event });
          break;
      }
    },
  },
);

// Every email carries a signed one-click unsubscribe link: the key is read once per container
// (top-level await: a container that cannot read it fails its init and Lambda retries).
const unsubscribeSecret = await cachedSecret(requireEnv(ENV.unsubscribeSecretId), nonEmpty("unsubscribe"))();
configureUnsubscribeLinks(unsubscribeLinks(unsubscribeSecret, requireEnv(ENV.publicApiUrl)));
const suppressions = new SuppressionStore(db, requireEnv(ENV.audienceTable));
// The region's rate, shared with the other senders running now (one check-in per container).
const budget = new SharedBudget(
  new SenderBudgetStore(db, requireEnv(ENV.audienceTable), requireEnv("AWS_REGION")),
  ses,
  randomUUID(),
  numberEnv(ENV.senderConcurrency, 2),
);

const webhooks = webhookPublisherFromEnv(db, queue);
/** Webhook events of the recipients recorded, published as they come and all by the batch's end. */
const webhookEvents = new WebhookOutbox(webhooks);
const publishOutcome = (outcome: Omit<RecipientOutcome, "at">) => {
  const event = outcomeEvent({ ...outcome, at: new Date().toISOString() });
  if (event) webhookEvents.add(event);
};
const campaigns = new CampaignStore(db, requireEnv(ENV.audienceTable), webhooks.transitions());
const counters = new CampaignCounterStore(db, requireEnv(ENV.audienceTable), requireEnv("AWS_REGION"));
const ownership = ownershipFromEnv(db);
const standings = new StandingCache(ownership);
const agenda = new CampaignAgendaStore(db, requireEnv(ENV.audienceTable));
const delivery = new Delivery({
  campaigns,
  owner: async (campaignId) => {
    const s = await standings.get(campaignId);
    if (standings.acts(s)) return "act";
    return s.kind === "lapsed" ? "wait" : "elsewhere";
  },
  pause: async (campaignId, reason) => {
    await pauseCampaign({ campaigns, agenda, ownership }, campaignId, reason, new Date().toISOString());
  },
  // Read at send time, not fan-out time: an unsubscribe or bounce during the campaign is honoured.
  // A confirmation email goes only to who is still pending; a campaign only to who is subscribed.
  suppressionReasons: (campaign, emails) =>
    suppressions.reasonsFor(
      campaign.listId,
      emails,
      campaign.purpose === "confirmation" ? "pending" : "subscribed",
    ),
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable), numberEnv(ENV.ledgerRetentionDays, 90) * 86_400),
  ses,
  now: Date.now,
  leaseMs: numberEnv(ENV.sendLeaseSeconds, 30) * 1000,
  claimReserveMs: CLAIM_RESERVE_MS,
  // 8 for each message of a batch (the event source's batch size, 4).
  parallelism: 8 * numberEnv(ENV.sendBatchSize, 4),
  onEvent: (event) => {
    switch (event.type) {
      case "sent":
        metrics.addMetric(METRIC.emailsSent, "Count", 1);
        publishOutcome({ ...event, status: "sent", sesMessageId: event.messageId });
        break;
      case "failed":
        metrics.addMetric(METRIC.sendFailed, "Count", 1);
        publishOutcome({ ...event, status: "failed" });
        break;
      case "suppressed":
        metrics.addMetric(METRIC.suppressed, "Count", 1);
        publishOutcome({ ...event, status: "suppressed" });
        break;
      case "recorded-before":
        publishOutcome({
          ...event.item,
          ...(event.item.sesMessageId ? { sesMessageId: event.item.sesMessageId } : {}),
        });
        break;
      case "retry":
        if (event.errorClass !== "throttled") metrics.addMetric(METRIC.sendDeferred, "Count", 1);
        break;
      case "unknown-outcome": {
        // The ledger key without the address (no address in logs, at any level here): the item's
        // partition key and a hash of the address.
        const { pk } = ledgerKey(event.campaignId, event.email);
        logger.warn("SES outcome unknown (the message may have been sent): possible duplicate", {
          ...correlation(),
          campaignId: event.campaignId,
          ledgerPk: pk,
          emailHash: emailHash(event.email),
          calls: event.calls,
        });
        metrics.addMetric(METRIC.possibleDuplicate, "Count", event.calls);
        break;
      }
      case "enforcement":
        logger.error("SES paused or suspended the account's sending: campaign paused", {
          ...correlation(),
          ...event,
        });
        metrics.addMetric(METRIC.sesEnforcement, "Count", 1);
        break;
      case "duplicate-window":
        logger.warn(
          "SES accepted a send the ledger could not record (claim lost, or DynamoDB down until the deadline): possible duplicate",
          {
            ...correlation(),
            campaignId: event.campaignId,
          },
        );
        metrics.addMetric(METRIC.possibleDuplicate, "Count", 1);
        break;
    }
  },
});

/**
 * Handles one send message. Recipients to retry (throttled, SES unavailable everywhere) go back to
 * the queue as a new, delayed message with just them, and the original message is done: retries do
 * not use up the queue's maxReceiveCount, so an outage of every region delays sending without ever
 * moving a message to the DLQ. Recipients held by a paused campaign are dropped from the queue:
 * they stay `queued` in the ledger (the truth), and resuming the campaign enqueues them again, so a
 * paused campaign costs the senders nothing while it waits. Recipients of a campaign another region
 * took over are dropped too: the new owner re-enqueues every recipient not yet terminal. Only errors (a dependency failing, a
 * crash, a poison message) redeliver the original message, and those do count towards the DLQ.
 */
async function handleRecord(record: SQSRecord, deadline: number): Promise<void> {
  const message = parseRecord(record, sendMessageSchema, "send");
  correlate({ campaignId: message.campaignId });
  if (message.test) return handleTest(message);
  const results = await delivery.deliver(message, deadline);
  const pick = (wanted: RecipientResult) => message.recipients.filter((_, i) => results[i] === wanted);
  const retry = pick("retry");
  const throttled = pick("throttled");
  const held = pick("held");
  const elsewhere = pick("elsewhere");
  const attempt = message.attempt ?? 0;
  const requeue = async (
    recipients: SendRecipient[],
    nextAttempt: number,
    delaySeconds: number,
    throttles = 0,
  ) => {
    if (recipients.length === 0) return;
    await queue.send(
      sendQueueUrl,
      {
        campaignId: message.campaignId,
        recipients,
        attempt: nextAttempt,
        ...(throttles > 0 ? { throttles } : {}),
      },
      delaySeconds,
    );
  };
  await countAccepted(message.campaignId, results.filter((r) => r === "sent").length);
  const deferred = pick("deferred");
  // Recipients this invocation had no time for: back at once, for the next invocation to take.
  await requeue(deferred, attempt, 0);
  await requeue(retry, attempt + 1, backoffSeconds(attempt + 1, 1, maxRetryDelaySeconds));
  // Throttled: back soon, the attempt not counted (the region is healthy, only busy); later each time
  // the same recipients come back throttled again.
  await requeue(throttled, attempt, throttledRetrySeconds(message.throttles), message.throttles + 1);
  logger.info("send message handled", {
    ...correlation(),
    attempt,
    recipients: results.length,
    sent: results.filter((r) => r === "sent").length,
    skipped: results.filter((r) => r === "skipped").length,
    failed: results.filter((r) => r === "failed").length,
    retry: retry.length,
    throttled: throttled.length,
    held: held.length,
    elsewhere: elsewhere.length,
    deferred: deferred.length,
  });
}

/** Test sends: mailed now, nothing recorded; what SES could not take yet comes back, a few times at most. */
async function handleTest(message: SendMessage): Promise<void> {
  const { retry, sent, failed } = await sendTests({ campaigns, ses }, message);
  const attempt = message.attempt + 1;
  if (retry.length > 0 && attempt <= TEST_ATTEMPTS)
    await queue.send(
      sendQueueUrl,
      { campaignId: message.campaignId, recipients: retry, attempt, test: true },
      backoffSeconds(attempt, 1, maxRetryDelaySeconds),
    );
  logger.info("test send handled", {
    ...correlation(),
    sent,
    failed,
    retry: retry.length,
    attempt: message.attempt,
  });
}

/**
 * Adds what SES accepted for a message to the campaign's count (the reputation guard's denominator
 * when Send events are lost). At best effort: the ledger holds the truth of each send, and a
 * failed count only leaves the guard as sensitive as the Send events make it.
 */
async function countAccepted(campaignId: string, sent: number): Promise<void> {
  if (sent === 0) return;
  try {
    await counters.addAccepted(campaignId, sent);
  } catch (error) {
    logger.warn("could not count accepted sends", { ...correlation(), sent, error: (error as Error).name });
  }
}

export const handler = traceHandler(async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  const deadline = Date.now() + context.getRemainingTimeInMillis() - FINISH_RESERVE_MS;
  await budget.refresh();
  const stopRefreshing = budget.keepFresh();
  try {
    // Every line logged for a record names its message and, once parsed, its campaign.
    const handle = (record: SQSRecord) =>
      withCorrelation({ messageId: record.messageId }, () => handleRecord(record, deadline));
    const result = await processBatch(event, handle, {
      sqs,
      queueUrl: sendQueueUrl,
      concurrent: true,
      maxBackoffSeconds: maxRetryDelaySeconds,
    });
    // All published by now, or the whole batch fails and comes back: its recipients are then
    // terminal, and each publishes its recorded outcome again (the same event ids).
    await webhookEvents.drain();
    return result;
  } finally {
    stopRefreshing();
    publishMetrics();
  }
});
