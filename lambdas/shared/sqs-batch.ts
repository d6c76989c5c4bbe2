import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { z } from "zod";
import { decodeMessage } from "../contracts/messages.ts";
import { logger } from "./powertools.ts";

/**
 * Thrown by a record handler to ask for a retry after `delaySeconds` (message visibility is the
 * backoff timer). Any other error retries after the queue's own visibility timeout.
 */
export class RetryLaterError extends Error {
  override readonly name = "RetryLaterError";
  constructor(
    message: string,
    readonly delaySeconds: number,
  ) {
    super(message);
  }
}

/** A message that can never be processed (unparseable, unknown campaign): it goes to the DLQ after maxReceiveCount. */
export class PoisonMessageError extends Error {
  override readonly name = "PoisonMessageError";
}

/** The record's message, validated against its contract; a body that does not fit is poison. */
export function parseRecord<S extends z.ZodType>(record: SQSRecord, schema: S, what: string): z.output<S> {
  const message = decodeMessage(schema, record.body);
  if (message === undefined) throw new PoisonMessageError(`not a valid ${what} message`);
  return message;
}

/** Exponential backoff with full jitter, capped: https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ */
export function backoffSeconds(
  receiveCount: number,
  baseSeconds = 2,
  capSeconds = 300,
  random = Math.random,
): number {
  const ceiling = Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.max(1, Math.round(ceiling / 2 + random() * (ceiling / 2)));
}

/**
 * Partial batch responses by hand (Lambda's `ReportBatchItemFailures`): each record is handled on its
 * own; a record whose handler throws is reported as failed and stays on the queue, every other
 * record is deleted by Lambda. Nothing is swallowed: an empty failure list means every record was
 * handled.
 */
export async function processBatch(
  event: SQSEvent,
  handleRecord: (record: SQSRecord) => Promise<void>,
  options: { sqs: SQSClient; queueUrl: string; concurrent?: boolean; maxBackoffSeconds?: number },
): Promise<SQSBatchResponse> {
  const failures: { itemIdentifier: string }[] = [];
  const run = async (record: SQSRecord) => {
    try {
      await handleRecord(record);
    } catch (error) {
      failures.push({ itemIdentifier: record.messageId });
      const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
      // A poison message cannot get better: let it reach the DLQ quickly. Anything else (a
      // dependency down, a bug) backs off exponentially rather than waiting out the visibility timeout.
      const delay =
        error instanceof RetryLaterError
          ? error.delaySeconds
          : error instanceof PoisonMessageError
            ? 1
            : backoffSeconds(receiveCount, 2, options.maxBackoffSeconds ?? 60);
      logger.warn("record failed; it will be retried", {
        messageId: record.messageId,
        receiveCount: record.attributes.ApproximateReceiveCount,
        error: (error as Error)?.name,
        reason: (error as Error)?.message,
        retryInSeconds: delay,
      });
      await setVisibility(options.sqs, options.queueUrl, record, delay);
    }
  };
  if (options.concurrent) await Promise.all(event.Records.map(run));
  else for (const record of event.Records) await run(record);
  return { batchItemFailures: failures };
}

async function setVisibility(
  sqs: SQSClient,
  queueUrl: string,
  record: SQSRecord,
  seconds: number,
): Promise<void> {
  try {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    // The message still comes back, only after the queue's full visibility timeout.
    logger.warn("could not shorten visibility", {
      messageId: record.messageId,
      error: (error as Error)?.name,
    });
  }
}
