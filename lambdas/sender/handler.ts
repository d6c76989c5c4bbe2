import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { AudienceStore } from "../adapters/audience-store.ts";
import { createDocumentClient, createSesClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { QueuePublisher, type SendMessage, type SendRecipient } from "../adapters/queue.ts";
import { SesSender } from "../adapters/ses-sender.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { cachedSecret, nonEmpty } from "../shared/cached-secret.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, metrics } from "../shared/powertools.ts";
import { backoffSeconds, PoisonMessageError, processBatch } from "../shared/sqs-batch.ts";
import { configureUnsubscribeLinks, unsubscribeLinks } from "./compose.ts";
import { Delivery, type RecipientResult } from "./deliver.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const queue = new QueuePublisher(sqs);
const sendQueueUrl = requireEnv("SEND_QUEUE_URL");
const regions = requireEnv("SES_REGIONS")
  .split(",")
  .map((r) => r.trim())
  .filter(Boolean);
/** Longest wait before a retry: after an outage, sending resumes within this long. */
const maxRetryDelaySeconds = numberEnv("RETRY_MAX_DELAY_SECONDS", 60);
/** A paused campaign's recipients are looked at again this often. */
const pausedRecheckSeconds = numberEnv("PAUSED_RECHECK_SECONDS", 10);

const ses = new SesSender(
  regions.map((region) => ({ region, client: createSesClient(region) })),
  requireEnv("SES_CONFIGURATION_SET"),
  {
    maxSendRate: numberEnv("MAX_SEND_RATE", 14),
    concurrency: numberEnv("SENDER_CONCURRENCY", 2),
    cooldownMs: numberEnv("BREAKER_COOLDOWN_SECONDS", 5) * 1000,
    onEvent: (event) => {
      switch (event.type) {
        case "breaker":
          logger.warn("SES circuit breaker changed", { ...event });
          metrics.addMetric(event.to === "open" ? "BreakerOpened" : "BreakerTransition", "Count", 1);
          break;
        case "failover":
          logger.info("sent through another region", { ...event });
          metrics.addMetric("FailoverUsed", "Count", 1);
          break;
        case "throttled":
          metrics.addMetric("Throttled", "Count", 1);
          break;
        case "quota":
          logger.info("SES quota read", { ...event });
          break;
      }
    },
  },
);

// Every email carries a signed one-click unsubscribe link: the key is read once per container
// (top-level await: a container that cannot read it fails its init and Lambda retries).
const unsubscribeSecret = await cachedSecret(requireEnv("UNSUBSCRIBE_SECRET_ID"), nonEmpty("unsubscribe"))();
configureUnsubscribeLinks(unsubscribeLinks(unsubscribeSecret, requireEnv("PUBLIC_API_URL")));
const suppressions = new SuppressionStore(db, requireEnv("AUDIENCE_TABLE"));

const delivery = new Delivery({
  audience: new AudienceStore(db, requireEnv("AUDIENCE_TABLE")),
  // Read at send time, not fan-out time: an unsubscribe or bounce during the campaign is honoured.
  suppressionReason: (campaign, recipient) => suppressions.reasonFor(campaign.listId, recipient.email),
  ledger: new LedgerStore(db, requireEnv("LEDGER_TABLE"), numberEnv("LEDGER_RETENTION_DAYS", 90) * 86_400),
  ses,
  now: Date.now,
  leaseMs: numberEnv("SEND_LEASE_SECONDS", 300) * 1000,
  parallelism: 8,
  onEvent: (event) => {
    switch (event.type) {
      case "sent":
        metrics.addMetric("EmailsSent", "Count", 1);
        break;
      case "failed":
        metrics.addMetric("SendFailed", "Count", 1);
        break;
      case "suppressed":
        metrics.addMetric("Suppressed", "Count", 1);
        break;
      case "retry":
        if (event.errorClass !== "throttled") metrics.addMetric("SendDeferred", "Count", 1);
        break;
      case "duplicate-window":
        logger.warn("claim lost after SES accepted: possible duplicate", { campaignId: event.campaignId });
        metrics.addMetric("PossibleDuplicate", "Count", 1);
        break;
    }
  },
});

function parse(record: SQSRecord): SendMessage {
  let body: Partial<SendMessage>;
  try {
    body = JSON.parse(record.body) as Partial<SendMessage>;
  } catch {
    throw new PoisonMessageError("send message is not JSON");
  }
  const valid =
    typeof body?.campaignId === "string" &&
    Array.isArray(body.recipients) &&
    body.recipients.every((r) => typeof r?.email === "string" && typeof (r.attributes ?? {}) === "object");
  if (!valid) throw new PoisonMessageError("send message is not {campaignId, recipients}");
  return {
    campaignId: body.campaignId as string,
    recipients: (body.recipients ?? []).map((r) => ({ email: r.email, attributes: r.attributes ?? {} })),
    attempt: Number.isInteger(body.attempt) ? Number(body.attempt) : 0,
  };
}

/**
 * Handles one send message. Recipients to retry (throttled, SES unavailable everywhere, held by a
 * paused campaign) go back to the queue as a new, delayed message with just them, and the original
 * message is done: retries do not use up the queue's maxReceiveCount, so an outage of every region
 * delays sending without ever moving a message to the DLQ. Only errors (a dependency failing, a
 * crash, a poison message) redeliver the original message, and those do count towards the DLQ.
 */
async function handleRecord(record: SQSRecord): Promise<void> {
  const message = parse(record);
  const results = await delivery.deliver(message);
  const pick = (wanted: RecipientResult) => message.recipients.filter((_, i) => results[i] === wanted);
  const retry = pick("retry");
  const held = pick("held");
  const attempt = message.attempt ?? 0;
  const requeue = async (recipients: SendRecipient[], nextAttempt: number, delaySeconds: number) => {
    if (recipients.length === 0) return;
    await queue.send(
      sendQueueUrl,
      { campaignId: message.campaignId, recipients, attempt: nextAttempt },
      delaySeconds,
    );
  };
  await requeue(retry, attempt + 1, backoffSeconds(attempt + 1, 1, maxRetryDelaySeconds));
  await requeue(held, attempt, pausedRecheckSeconds);
  logger.info("send message handled", {
    campaignId: message.campaignId,
    attempt,
    recipients: results.length,
    sent: results.filter((r) => r === "sent").length,
    skipped: results.filter((r) => r === "skipped").length,
    failed: results.filter((r) => r === "failed").length,
    retry: retry.length,
    held: held.length,
  });
}

export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await processBatch(event, handleRecord, {
      sqs,
      queueUrl: sendQueueUrl,
      concurrent: true,
      maxBackoffSeconds: maxRetryDelaySeconds,
    });
  } finally {
    metrics.publishStoredMetrics();
  }
};
