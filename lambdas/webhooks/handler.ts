import type { Context, SQSEvent } from "aws-lambda";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { WebhookDeliveryStore } from "../adapters/webhook-delivery-store.ts";
import { WebhookStore } from "../adapters/webhook-store.ts";
import { ENV } from "../contracts/env.ts";
import { METRIC } from "../contracts/metrics.ts";
import { webhookMessageSchema } from "../contracts/webhook-events.ts";
import { requireEnv } from "../shared/env.ts";
import { logger, metrics, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { parseRecord, processBatch } from "../shared/sqs-batch.ts";
import { type PostResult, WebhookDispatcher } from "./dispatch.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const queue = new QueuePublisher(sqs);
const webhookQueueUrl = requireEnv(ENV.webhookQueueUrl);

/** A POST that never throws: the endpoint's status, or why it gave none (refused, timed out). */
async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<PostResult> {
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return { status: response.status };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { error: cause ?? (error as Error).name };
  }
}

const dispatcher = new WebhookDispatcher({
  store: new WebhookStore(db, requireEnv(ENV.audienceTable)),
  log: new WebhookDeliveryStore(db, requireEnv(ENV.audienceTable)),
  region: requireEnv("AWS_REGION"),
  post,
  retryLater: (message, delaySeconds) => queue.send(webhookQueueUrl, message, delaySeconds),
  now: Date.now,
  onNotice: (notice) => {
    switch (notice.type) {
      case "delivered":
        metrics.addMetric(METRIC.webhookDelivered, "Count", 1);
        metrics.addMetric(METRIC.webhookLag, "Milliseconds", notice.lagMs);
        break;
      case "failed":
        metrics.addMetric(METRIC.webhookFailed, "Count", 1);
        break;
      case "disabled":
        logger.error("webhook endpoint disabled after failing for a day", { webhookId: notice.webhookId });
        metrics.addMetric(METRIC.webhookDisabled, "Count", 1);
        break;
    }
  },
});

/** The webhooks queue's consumer: delivers events to endpoints and retries failed deliveries. */
export const handler = traceHandler(async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  try {
    return await processBatch(
      event,
      (record) => dispatcher.handle(parseRecord(record, webhookMessageSchema, "webhook message")),
      { sqs, queueUrl: webhookQueueUrl, concurrent: true },
    );
  } finally {
    publishMetrics();
  }
});
