import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import {
  FACTS_PER_TRANSACTION,
  type FirstFact,
  transactionGroups,
} from "../../lambdas/adapters/ledger-items.ts";
import { LedgerStore } from "../../lambdas/adapters/ledger-store.ts";

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
    const outcomes = await store.recordFirstAll(facts, (recorded) => {
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
    await expect(store.recordFirstAll([fact("a@example.com", "sendEventAt")], () => [])).rejects.toThrow(
      "service unavailable",
    );
  });
});
