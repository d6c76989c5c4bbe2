import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";

const sqs = mockClient(SQSClient);
const db = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
let handler: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

function record(id: string, body: unknown): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: "1" },
  } as unknown as SQSRecord;
}

beforeAll(async () => {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: "unsubscribe-key" });
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    STEADFAST_HOME_REGION: "us-east-1",
    OWNER_LEASE_SECONDS: "90",
    SEND_QUEUE_URL: "https://sqs.local/send",
    SES_REGIONS: "eu-west-1",
    SES_CONFIGURATION_SET: "steadfast",
    UNSUBSCRIBE_SECRET_ID: "unsubscribe",
    PUBLIC_API_URL: "https://api.example.com",
    AUDIENCE_TABLE: "audience",
    LEDGER_TABLE: "ledger",
    POWERTOOLS_METRICS_NAMESPACE: "Test",
  });
  ({ handler } = await import("../../lambdas/sender/handler.ts"));
});

beforeEach(() => {
  sqs.reset();
  db.reset();
  sqs.resolves({});
});

describe("sender handler", () => {
  it("drops the recipients of a paused campaign from the queue: no new send message, nothing redelivered", async () => {
    db.on(QueryCommand).resolves({
      Items: [{ pk: "CAMPAIGN#c1", sk: "#META", id: "c1", listId: "l1", status: "paused", fanoutDone: true }],
    });
    // This region owns the campaign (no coordination table: the owner item is in the audience table).
    db.on(GetCommand).resolves({
      Item: {
        pk: "CAMPAIGN#c1",
        sk: "OWNER",
        ownerRegion: "us-east-1",
        epoch: 1,
        leaseUntil: Date.now() + 90_000,
      },
    });
    const recipients = [
      { email: "a@example.com", attributes: {} },
      { email: "b@example.com", attributes: {} },
    ];
    const context = { getRemainingTimeInMillis: () => 20_000 } as unknown as Context;
    const out = await handler({ Records: [record("m1", { campaignId: "c1", recipients })] }, context);
    expect(out.batchItemFailures).toEqual([]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});
