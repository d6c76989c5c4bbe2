import { randomUUID } from "node:crypto";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { FunctionPool } from "./function-pool.ts";
import { LOCAL_ACCOUNT } from "./local-account.ts";
import { chunk, mapLimit } from "../lambdas/shared/concurrency.ts";

/** SQS's limit on the entries of one DeleteMessageBatch call. */
const DELETE_BATCH_MAX = 10;

export interface EventSourceSpec {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly maxConcurrency: number;
  readonly reportBatchItemFailures: boolean;
}

/**
 * An SQS event source mapping as Lambda runs it: up to `maxConcurrency` pollers, each receiving a
 * batch, invoking the function and deleting what succeeded. With `ReportBatchItemFailures`, only
 * the records the function names stay on the queue; if the invocation fails (error, timeout, or
 * crash) the whole batch stays and comes back after its visibility timeout. Moving to the DLQ after
 * `maxReceiveCount` is the queue's redrive policy, enforced by the SQS emulator.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
 */
export class SqsEventSource {
  private running = false;
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  invocations = 0;
  errors = 0;

  constructor(
    private readonly spec: EventSourceSpec,
    private readonly pool: FunctionPool,
    private readonly sqs: SQSClient,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  /** Starts polling; again after `stop` too (a region back from an outage), with fresh pollers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    const { signal } = this.abort;
    this.loops = Array.from({ length: this.spec.maxConcurrency }, () => this.loop(signal));
  }

  /**
   * Stops polling: a long poll in progress is abandoned, and an invocation in progress is waited
   * for (kill the function's environments to end it sooner). What the pollers had received and not
   * deleted comes back after its visibility timeout.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  /** One poller, until `signal` (its own: pollers of an earlier start never outlive their stop). */
  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let messages: Message[];
      try {
        messages = await this.receiveBatch(signal);
      } catch (error) {
        if (signal.aborted) break;
        // The queue is unreachable: Lambda's poller backs off and keeps trying.
        this.onError(error as Error);
        await sleep(1000);
        continue;
      }
      if (messages.length === 0 || signal.aborted) continue;
      await this.invoke(messages);
    }
  }

  /**
   * Long-polls for the first message (Lambda's pollers use long polling), then gathers more until
   * the batch is full or the batching window is over, as `MaximumBatchingWindowInSeconds` does.
   */
  private async receiveBatch(signal: AbortSignal): Promise<Message[]> {
    const messages = await this.receive(this.spec.batchSize, IDLE_WAIT_SECONDS, signal);
    if (messages.length === 0) return messages;
    const windowEnds = Date.now() + this.spec.maxBatchingWindowSeconds * 1000;
    while (!signal.aborted && messages.length < this.spec.batchSize && Date.now() < windowEnds) {
      const more = await this.receive(this.spec.batchSize - messages.length, 0, signal);
      if (more.length === 0) await sleep(Math.min(100, Math.max(0, windowEnds - Date.now())));
      messages.push(...more);
    }
    return messages;
  }

  private async receive(max: number, waitSeconds: number, signal: AbortSignal): Promise<Message[]> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.spec.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: signal },
    );
    return out.Messages ?? [];
  }

  private async invoke(messages: Message[]): Promise<void> {
    const event = { Records: messages.map((m) => this.record(m)) };
    this.invocations++;
    let result: unknown;
    try {
      result = await this.pool.invoke(event);
    } catch (error) {
      this.errors++;
      this.onError(error as Error);
      return;
    }
    await this.delete(this.succeeded(messages, result));
  }

  /**
   * Deletes what the function handled, ten per call and the calls side by side, as Lambda's pollers
   * do. SQS takes at most ten entries a call: a batch of 100 sent whole was refused, and came back
   * after its visibility timeout as duplicates. A message not deleted is redelivered: at-least-once,
   * as on AWS.
   */
  private async delete(messages: readonly Message[]): Promise<void> {
    await mapLimit(chunk(messages, DELETE_BATCH_MAX), DELETE_BATCH_MAX, async (group) => {
      try {
        const out = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.spec.queueUrl,
            Entries: group.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
        if (out.Failed?.length)
          this.onError(
            new Error(`${out.Failed.length} handled messages not deleted: ${out.Failed[0]?.Code}`),
          );
      } catch (error) {
        this.onError(error as Error);
      }
    });
  }

  /** The records Lambda deletes, from a function's partial batch response. */
  private succeeded(messages: Message[], result: unknown): Message[] {
    if (!this.spec.reportBatchItemFailures) return messages;
    const failures = (result as { batchItemFailures?: unknown } | null)?.batchItemFailures;
    if (failures === undefined || failures === null) return messages;
    if (!Array.isArray(failures)) return [];
    const ids = new Set<string>();
    for (const failure of failures) {
      const id = (failure as { itemIdentifier?: unknown })?.itemIdentifier;
      // An empty or unknown identifier makes Lambda treat the whole batch as failed.
      if (typeof id !== "string" || !messages.some((m) => m.MessageId === id)) return [];
      ids.add(id);
    }
    return messages.filter((m) => !ids.has(m.MessageId as string));
  }

  private record(message: Message) {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId ?? randomUUID(),
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
        SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
        SenderId: attributes.SenderId ?? LOCAL_ACCOUNT,
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes: Object.fromEntries(
        Object.entries(message.MessageAttributes ?? {}).map(([k, v]) => [
          k,
          { stringValue: v.StringValue, dataType: v.DataType, stringListValues: [], binaryListValues: [] },
        ]),
      ),
      md5OfBody: message.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: this.spec.queueArn,
      awsRegion: this.spec.region,
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Long-poll wait when the queue is empty (up to 20 s on AWS; shorter here so faults show quickly). */
const IDLE_WAIT_SECONDS = 5;
