import { readFileSync } from "node:fs";
import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const sqs = mockClient(SQSClient);
const db = mockClient(DynamoDBDocumentClient);
let handler: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

const delivery = readFileSync(
  new URL("../fixtures/ses-events/event-publishing.delivery.json", import.meta.url),
  "utf8",
);

function record(id: string, body: string, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: { ApproximateReceiveCount: String(receiveCount) },
  } as unknown as SQSRecord;
}

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    STEADFAST_HOME_REGION: "us-east-1",
    OWNER_LEASE_SECONDS: "90",
    FEEDBACK_QUEUE_URL: "https://sqs.local/feedback",
    FEEDBACK_DLQ_URL: "https://sqs.local/feedback-dlq",
    AUDIENCE_TABLE: "audience",
    LEDGER_TABLE: "ledger",
    POWERTOOLS_METRICS_NAMESPACE: "Test",
  });
  ({ handler } = await import("../../lambdas/feedback/handler.ts"));
});

beforeEach(() => {
  sqs.reset();
  db.reset();
  sqs.resolves({});
});

describe("feedback handler", () => {
  it("moves unparseable events to the DLQ at once and carries on with the batch", async () => {
    db.on(QueryCommand).resolves({
      Items: [
        { pk: "C#c1#00", sk: "R#recipient@example.com", campaignId: "c1", email: "recipient@example.com" },
      ],
    });
    db.on(UpdateCommand).resolves({});
    db.on(TransactWriteCommand).resolves({});
    db.on(GetCommand).resolves({ Item: { status: "sending", listId: "L" } });
    const out = await handler(
      {
        Records: [
          record("bad", "{not json"),
          record("good", delivery),
          record("odd", JSON.stringify({ a: 1 })),
        ],
      },
      {} as Context,
    );
    expect(out.batchItemFailures).toEqual([]);
    const dead = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(dead.map((d) => [d.QueueUrl, d.MessageBody])).toEqual([
      ["https://sqs.local/feedback-dlq", "{not json"],
      ["https://sqs.local/feedback-dlq", JSON.stringify({ a: 1 })],
    ]);
    // The good one was recorded: one transaction (flag + counter).
    expect(db.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });

  it("retries an event whose message is not on the ledger yet, then drops it", async () => {
    db.on(QueryCommand).resolves({ Items: [] });
    const early = await handler({ Records: [record("m1", delivery, 1)] }, {} as Context);
    expect(early.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
    const late = await handler({ Records: [record("m1", delivery, 7)] }, {} as Context);
    expect(late.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it("retries an unmatched event after 1 s first, and keeps it through at least 30 s of backoff", async () => {
    db.on(QueryCommand).resolves({ Items: [] });
    const waits = async (random: number) => {
      const spy = vi.spyOn(Math, "random").mockReturnValue(random);
      sqs.reset();
      sqs.resolves({});
      const seconds: number[] = [];
      try {
        for (let receive = 1; ; receive++) {
          const out = await handler({ Records: [record("m1", delivery, receive)] }, {} as Context);
          if (out.batchItemFailures.length === 0) return seconds;
          const visibility = sqs.commandCalls(ChangeMessageVisibilityCommand).at(-1)?.args[0].input;
          seconds.push(visibility?.VisibilityTimeout ?? Number.NaN);
        }
      } finally {
        spy.mockRestore();
      }
    };
    // Longest jitter: the first retry still comes after 1 s (the ledger record is usually a
    // replication lag away), and each wait at most doubles.
    const longest = await waits(0.999);
    expect(longest[0]).toBe(1);
    // Shortest jitter: the event is still kept long enough to ride out replication falling behind,
    // and dropped before the queue's maxReceiveCount (10) would dead-letter it.
    const shortest = await waits(0);
    expect(shortest.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(30);
    expect(shortest.length + 1).toBeLessThan(10);
  });

  it("treats a duplicate (the flag is already set) as done", async () => {
    db.on(QueryCommand).resolves({
      Items: [
        { pk: "C#c1#00", sk: "R#recipient@example.com", campaignId: "c1", email: "recipient@example.com" },
      ],
    });
    db.on(UpdateCommand).resolves({});
    db.on(TransactWriteCommand).rejects(
      Object.assign(new Error("cancelled"), {
        name: "TransactionCanceledException",
        CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }],
      }),
    );
    const out = await handler({ Records: [record("dup", delivery)] }, {} as Context);
    expect(out.batchItemFailures).toEqual([]);
  });

  it("fails only the record whose DynamoDB call failed", async () => {
    db.on(QueryCommand).rejects(Object.assign(new Error("down"), { name: "InternalServerError" }));
    const out = await handler({ Records: [record("x", delivery), record("y", "[]")] }, {} as Context);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: "x" }]);
  });
});
