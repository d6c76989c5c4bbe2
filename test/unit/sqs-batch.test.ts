import { ChangeMessageVisibilityCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import {
  backoffSeconds,
  PoisonMessageError,
  processBatch,
  RetryLaterError,
} from "../../lambdas/shared/sqs-batch.ts";

function sqsRecord(id: string, body: unknown, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: "0",
      SenderId: "x",
      ApproximateFirstReceiveTimestamp: "0",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:q",
    awsRegion: "us-east-1",
  };
}

describe("processBatch", () => {
  it("reports exactly the failed records and sets their backoff", async () => {
    const sqsMock = mockClient(SQSClient);
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    const event: SQSEvent = {
      Records: [sqsRecord("a", 1), sqsRecord("b", 2), sqsRecord("c", 3, 9), sqsRecord("d", 4)],
    };
    const result = await processBatch(
      event,
      async (record) => {
        if (record.messageId === "b") throw new RetryLaterError("later", 7);
        if (record.messageId === "c") throw new Error("boom");
        if (record.messageId === "d") throw new PoisonMessageError("bad");
      },
      { sqs: new SQSClient({ region: "us-east-1" }), queueUrl: "http://q", maxBackoffSeconds: 60 },
    );
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: "b" }, { itemIdentifier: "c" }, { itemIdentifier: "d" }],
    });
    const visibility = Object.fromEntries(
      sqsMock
        .commandCalls(ChangeMessageVisibilityCommand)
        .map(
          (call) => [String(call.args[0].input.ReceiptHandle), call.args[0].input.VisibilityTimeout] as const,
        ),
    );
    // An explicit delay; an error's backoff (9th receive: capped at 60 s, jittered down to half);
    // a poison message straight back so that it reaches the DLQ quickly.
    expect(visibility["rh-b"]).toBe(7);
    expect(visibility["rh-c"]).toBeGreaterThanOrEqual(30);
    expect(visibility["rh-c"]).toBeLessThanOrEqual(60);
    expect(visibility["rh-d"]).toBe(1);
    expect(visibility["rh-a"]).toBeUndefined();
  });
});

describe("backoffSeconds", () => {
  it("grows exponentially with jitter and stays under the cap", () => {
    expect(backoffSeconds(1, 2, 300, () => 0)).toBe(1);
    expect(backoffSeconds(4, 2, 300, () => 1)).toBe(16);
    expect(backoffSeconds(20, 2, 300, () => 1)).toBe(300);
    expect(backoffSeconds(20, 2, 300, () => 0)).toBe(150);
  });
});
