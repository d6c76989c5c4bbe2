import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { AudienceStore } from "../adapters/audience-store.ts";
import { createDocumentClient, createSesClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import type { SendMessage } from "../adapters/queue.ts";
import { SesSender } from "../adapters/ses-sender.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { TokenBucket } from "../domain/token-bucket.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, metrics } from "../shared/powertools.ts";
import { backoffSeconds, PoisonMessageError, processBatch, RetryLaterError } from "../shared/sqs-batch.ts";
import { configureUnsubscribeLinks, unsubscribeLinks } from "./compose.ts";
import { Delivery } from "./deliver.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const sendQueueUrl = requireEnv("SEND_QUEUE_URL");
const regions = requireEnv("SES_REGIONS")
  .split(",")
  .map((r) => r.trim())
  .filter(Boolean);
// Each concurrent invocation gets an equal share of the region's rate (ARCHITECTURE §4).
const ratePerContainer = numberEnv("MAX_SEND_RATE", 14) / numberEnv("SENDER_CONCURRENCY", 2);
const buckets = new Map(regions.map((region) => [region, new TokenBucket(ratePerContainer)]));
const ses = new SesSender(
  regions.map((region) => ({ region, client: createSesClient(region) })),
  requireEnv("SES_CONFIGURATION_SET"),
  (region) => buckets.get(region)?.take() ?? Promise.resolve(),
);

// Every email carries a signed one-click unsubscribe link: the key is read once per container
// (top-level await: a container that cannot read it fails its init and Lambda retries).
const unsubscribeSecret = await new SecretsManagerClient({}).send(
  new GetSecretValueCommand({ SecretId: requireEnv("UNSUBSCRIBE_SECRET_ID") }),
);
if (!unsubscribeSecret.SecretString) throw new Error("the unsubscribe secret is empty");
configureUnsubscribeLinks(unsubscribeLinks(unsubscribeSecret.SecretString, requireEnv("PUBLIC_API_URL")));
const suppressions = new SuppressionStore(db, requireEnv("AUDIENCE_TABLE"));

const delivery = new Delivery({
  audience: new AudienceStore(db, requireEnv("AUDIENCE_TABLE")),
  // Read at send time, not fan-out time: an unsubscribe or bounce during the campaign is honoured.
  suppressionReason: (campaign, recipient) => suppressions.reasonFor(campaign.listId, recipient.email),
  ledger: new LedgerStore(db, requireEnv("LEDGER_TABLE"), numberEnv("LEDGER_RETENTION_DAYS", 90) * 86_400),
  ses,
  now: Date.now,
  leaseMs: 5 * 60_000,
  parallelism: 8,
  onEvent: (event) => {
    switch (event.type) {
      case "sent":
        metrics.addMetric("EmailsSent", "Count", 1);
        if (event.failedOver) metrics.addMetric("FailoverUsed", "Count", 1);
        break;
      case "failed":
        metrics.addMetric("SendFailed", "Count", 1);
        break;
      case "suppressed":
        metrics.addMetric("Suppressed", "Count", 1);
        break;
      case "retry":
        metrics.addMetric(event.errorClass === "throttled" ? "Throttled" : "SendDeferred", "Count", 1);
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
    typeof body.campaignId === "string" &&
    Array.isArray(body.recipients) &&
    body.recipients.every((r) => typeof r?.email === "string" && typeof (r.attributes ?? {}) === "object");
  if (!valid) throw new PoisonMessageError("send message is not {campaignId, recipients}");
  return {
    campaignId: body.campaignId as string,
    recipients: (body.recipients ?? []).map((r) => ({ email: r.email, attributes: r.attributes ?? {} })),
  };
}

async function handleRecord(record: SQSRecord): Promise<void> {
  const message = parse(record);
  const results = await delivery.deliver(message);
  const retry = results.filter((r) => r === "retry").length;
  logger.info("send message handled", {
    campaignId: message.campaignId,
    recipients: results.length,
    sent: results.filter((r) => r === "sent").length,
    skipped: results.filter((r) => r === "skipped").length,
    failed: results.filter((r) => r === "failed").length,
    retry,
  });
  if (retry > 0) {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
    throw new RetryLaterError(`${retry} recipient(s) to retry`, backoffSeconds(receiveCount));
  }
}

export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await processBatch(event, handleRecord, { sqs, queueUrl: sendQueueUrl, concurrent: true });
  } finally {
    metrics.publishStoredMetrics();
  }
};
