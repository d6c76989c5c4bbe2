import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import {
  FACTS_PER_TRANSACTION,
  type FirstFact,
  transactionGroups,
} from "../../lambdas/adapters/ledger-items.ts";
import { LedgerStore } from "../../lambdas/adapters/ledger-store.ts";
import { ledgerKey } from "../../lambdas/adapters/dynamo/keys.ts";

const fact = (email: string, flag: string): FirstFact => ({
  ref: { pk: "LEDGER#c#00", sk: `R#${email}`, campaignId: "c", email },
  flag,
  at: "2026-01-01T00:00:00.000Z",
  sets: {},
});

describe("first-time facts in transactions", () => {
  it("never puts two facts about one item in one transaction, and fills transactions up to the limit", () => {
    const facts = Array.from({ length: 100 }, (_, i) =>
      fact(`r${i % 60}@example.com`, i < 60 ? "sendEventAt" : "deliveredAt"),
    );
    const groups = transactionGroups(facts);
    for (const group of groups) {
      expect(group.length).toBeLessThanOrEqual(FACTS_PER_TRANSACTION);
      const items = group.map((g) => g.fact.ref.sk);
      expect(new Set(items).size).toBe(items.length);
    }
    expect(
      groups
        .flat()
        .map((g) => g.index)
        .sort((a, b) => a - b),
    ).toEqual([...Array(100).keys()]);
    expect(groups).toHaveLength(3);
  });

  it("records the rest when some facts are duplicates, with counters for the recorded ones only", async () => {
    const db = mockClient(DynamoDBDocumentClient);
    const sizes: number[] = [];
    db.on(TransactWriteCommand).callsFake((input: { TransactItems: unknown[] }) => {
      sizes.push(input.TransactItems.length);
      if (sizes.length === 1)
        // The second of three facts was recorded before (its flag is set).
        throw new TransactionCanceledException({
          message: "cancelled",
          $metadata: {},
          CancellationReasons: [
            { Code: "None" },
            { Code: "ConditionalCheckFailed" },
            { Code: "None" },
            { Code: "None" },
          ],
        });
      return {};
    });
    const store = new LedgerStore(db as never, "ledger");
    const counted: number[] = [];
    const facts = [
      fact("a@example.com", "deliveredAt"),
      fact("b@example.com", "deliveredAt"),
      fact("c@example.com", "deliveredAt"),
    ];
    const outcomes = await store.feedback.recordFirstAll(facts, (recorded) => {
      counted.push(recorded.length);
      return [
        {
          Update: {
            TableName: "audience",
            Key: { pk: "C", sk: "COUNTERS" },
            UpdateExpression: "ADD n :n",
            ExpressionAttributeValues: { ":n": recorded.length },
          },
        },
      ];
    });
    expect(outcomes).toEqual(["recorded", "duplicate", "recorded"]);
    expect(counted).toEqual([3, 2]);
    expect(sizes).toEqual([4, 3]);
  });

  it("fails when a transaction fails for any other reason, so that the batch is retried", async () => {
    const db = mockClient(DynamoDBDocumentClient);
    db.on(TransactWriteCommand).rejects(new Error("service unavailable"));
    const store = new LedgerStore(db as never, "ledger");
    await expect(
      store.feedback.recordFirstAll([fact("a@example.com", "sendEventAt")], () => []),
    ).rejects.toThrow("service unavailable");
  });

  it("finds items by campaign tag and recipient in one read, and by message id where that cannot tell", async () => {
    const db = mockClient(DynamoDBDocumentClient);
    const item = (email: string, sesMessageId: string) => ({
      ...ledgerKey("c1", email),
      campaignId: "c1",
      email,
      sesMessageId,
    });
    db.on(BatchGetCommand).resolves({
      Responses: { ledger: [item("a@example.com", "m-a"), item("b@example.com", "m-b-first-try")] },
    });
    const queried: string[] = [];
    db.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, string> }) => {
      const id = input.ExpressionAttributeValues[":id"] as string;
      queried.push(id);
      return { Items: id === "m-b" ? [item("b@example.com", "m-b")] : [] };
    });
    const store = new LedgerStore(db as never, "ledger");
    const refs = await store.feedback.findAll([
      { messageId: "m-a", campaignId: "c1", email: "a@example.com" },
      // b was retried: its item holds the other message's id, so the index decides.
      { messageId: "m-b", campaignId: "c1", email: "b@example.com" },
      // No campaign tag: the index.
      { messageId: "m-x" },
    ]);
    expect(refs.map((r) => r?.email)).toEqual(["a@example.com", "b@example.com", undefined]);
    expect(queried.sort()).toEqual(["m-b", "m-x"]);
    expect(db.commandCalls(BatchGetCommand)).toHaveLength(1);
  });
});
