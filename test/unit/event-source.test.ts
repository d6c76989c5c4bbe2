import {
  DeleteMessageBatchCommand,
  type DeleteMessageBatchCommandOutput,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { type EventSourceSpec, SqsEventSource } from "../../local/event-source.ts";
import type { FunctionPool } from "../../local/function-pool.ts";

const spec: EventSourceSpec = {
  queueUrl: "http://sqs.local/000000000000/feedback",
  queueArn: "arn:aws:sqs:us-east-1:000000000000:feedback",
  region: "us-east-1",
  batchSize: 100,
  maxBatchingWindowSeconds: 1,
  maxConcurrency: 1,
  reportBatchItemFailures: true,
};

/**
 * An SQS queue at the SDK boundary, as strict as SQS about batch calls: a DeleteMessageBatch of
 * more than ten entries is refused whole (TooManyEntriesInBatchRequest), and `unknown` receipt
 * handles come back as failed entries.
 */
function fakeQueue(messages: Message[], unknown: ReadonlySet<string> = new Set()) {
  const waiting = [...messages];
  const deleted: string[] = [];
  const calls: number[] = [];
  const client = {
    send: async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
      if (command instanceof ReceiveMessageCommand) {
        const batch = waiting.splice(0, command.input.MaxNumberOfMessages ?? 1);
        if (batch.length === 0) await new Promise((r) => setTimeout(r, 5));
        if (options?.abortSignal?.aborted) throw Object.assign(new Error("aborted"), { name: "AbortError" });
        return { Messages: batch };
      }
      if (command instanceof DeleteMessageBatchCommand) {
        const entries = command.input.Entries ?? [];
        calls.push(entries.length);
        if (entries.length > 10)
          throw Object.assign(new Error("Maximum number of entries per request are 10."), {
            name: "TooManyEntriesInBatchRequest",
          });
        const failed = entries.filter((e) => unknown.has(e.ReceiptHandle ?? ""));
        deleted.push(...entries.filter((e) => !failed.includes(e)).map((e) => e.ReceiptHandle ?? ""));
        return {
          Successful: [],
          Failed: failed.map((e) => ({ Id: e.Id, Code: "ReceiptHandleIsInvalid", SenderFault: true })),
        } as unknown as DeleteMessageBatchCommandOutput;
      }
      throw new Error("unexpected command");
    },
  } as unknown as SQSClient;
  return { client, deleted, calls };
}

const messages = (n: number): Message[] =>
  Array.from({ length: n }, (_, i) => ({ MessageId: `m${i}`, ReceiptHandle: `r${i}`, Body: "{}" }));

/** Runs the event source until `done` holds (or five seconds pass), then stops it. */
async function runUntil(source: SqsEventSource, done: () => boolean): Promise<void> {
  source.start();
  const until = Date.now() + 5_000;
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await source.stop();
}

describe("the local SQS event source", () => {
  it("deletes every message of a 100-record batch the function handled, ten per call", async () => {
    const queue = fakeQueue(messages(100));
    const invoked: number[] = [];
    const pool = {
      invoke: async (event: { Records: unknown[] }) => {
        invoked.push(event.Records.length);
        return { batchItemFailures: [] };
      },
    } as unknown as FunctionPool;
    const errors: Error[] = [];
    const source = new SqsEventSource(spec, pool, queue.client, (e) => errors.push(e));
    await runUntil(source, () => queue.deleted.length === 100);
    expect(invoked).toEqual([100]);
    expect(queue.calls).toEqual(Array.from({ length: 10 }, () => 10));
    expect(new Set(queue.deleted).size).toBe(100);
    expect(errors).toEqual([]);
  });

  it("keeps the records the function reported failed, and reports messages SQS did not delete", async () => {
    const queue = fakeQueue(messages(15), new Set(["r3"]));
    const pool = {
      invoke: async () => ({ batchItemFailures: [{ itemIdentifier: "m7" }] }),
    } as unknown as FunctionPool;
    const errors: Error[] = [];
    const source = new SqsEventSource(spec, pool, queue.client, (e) => errors.push(e));
    await runUntil(source, () => queue.calls.length === 2);
    expect(queue.calls).toEqual([10, 4]);
    expect(queue.deleted.sort()).toEqual(
      messages(15)
        .map((m) => m.ReceiptHandle as string)
        .filter((r) => r !== "r7" && r !== "r3")
        .sort(),
    );
    expect(errors.map((e) => e.message)).toEqual(["1 handled messages not deleted: ReceiptHandleIsInvalid"]);
  });
});
