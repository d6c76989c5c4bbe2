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
  factsByItem,
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

const counterWrite = (n: number) => ({
  Update: {
    TableName: "audience",
    Key: { pk: "C", sk: "COUNTERS" },
    UpdateExpression: "ADD n :n",
    ExpressionAttributeValues: { ":n": n },
  },
});

type Update = {
  Key: { sk: string };
  UpdateExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
};

/**
 * A ledger behind a mocked client that judges each transaction as DynamoDB does: a ledger update
 * whose flags (`#f0`, `#f1`, …) are already set cancels the transaction, naming it.
 */
function ledgerWith(initial: Record<string, string[]>) {
  const db = mockClient(DynamoDBDocumentClient);
  const items = new Map(Object.entries(initial).map(([sk, flags]) => [sk, new Set(flags)]));
  const sizes: number[] = [];
  db.on(TransactWriteCommand).callsFake((input: { TransactItems: { Update: Update }[] }) => {
    sizes.push(input.TransactItems.length);
    const flagsOf = (u: Update) =>
      Object.entries(u.ExpressionAttributeNames ?? {})
        .filter(([name]) => name.startsWith("#f"))
        .map(([, flag]) => flag);
    const codes = input.TransactItems.map(({ Update: u }) =>
      flagsOf(u).some((flag) => items.get(u.Key.sk)?.has(flag)) ? "ConditionalCheckFailed" : "None",
    );
    if (codes.includes("ConditionalCheckFailed"))
      throw new TransactionCanceledException({
        message: "cancelled",
        $metadata: {},
        CancellationReasons: codes.map((Code) => ({ Code })),
      });
    for (const { Update: u } of input.TransactItems)
      for (const flag of flagsOf(u)) items.set(u.Key.sk, new Set([...(items.get(u.Key.sk) ?? []), flag]));
    return {};
  });
  return { db, items, sizes };
}

describe("first-time facts in transactions", () => {
  it("writes one update per item for its facts, a repeated flag once, and never an item twice in a transaction", () => {
    // 60 Send events, the Delivery of the first 40 in the same batch, and r0's Send again.
    const facts = [
      ...Array.from({ length: 60 }, (_, i) => fact(`r${i}@example.com`, "sendEventAt")),
      ...Array.from({ length: 40 }, (_, i) => fact(`r${i}@example.com`, "deliveredAt")),
      fact("r0@example.com", "sendEventAt"),
    ];
    const units = factsByItem(facts);
    expect(units).toHaveLength(60);
    expect(units[0]?.map((e) => e.fact.flag)).toEqual(["sendEventAt", "deliveredAt"]);
    expect(units.flat()).toHaveLength(100); // the repeated Send is left out
    const groups = transactionGroups(units);
    expect(groups.map((g) => g.length)).toEqual([FACTS_PER_TRANSACTION, 60 - FACTS_PER_TRANSACTION]);
    // Facts split again (after a failed condition) never share a transaction with their item.
    const split = transactionGroups(units[0]?.map((entry) => [entry]) ?? []);
    expect(split).toHaveLength(2);
  });

  it("records the rest when some facts are duplicates, with counters for the recorded ones only", async () => {
    const { db, sizes } = ledgerWith({ "R#b@example.com": ["deliveredAt"] });
    const store = new LedgerStore(db as never, "ledger");
    const counted: number[] = [];
    const facts = [
      fact("a@example.com", "deliveredAt"),
      fact("b@example.com", "deliveredAt"),
      fact("c@example.com", "deliveredAt"),
    ];
    const outcomes = await store.feedback.recordFirstAll(facts, (recorded) => {
      counted.push(recorded.length);
      return [counterWrite(recorded.length)];
    });
    expect(outcomes).toEqual(["recorded", "duplicate", "recorded"]);
    expect(counted).toEqual([3, 2]);
    expect(sizes).toEqual([4, 3]);
  });

  it("sets a Send's and a Delivery's flags in one update, and fact by fact when one was set before", async () => {
    // a: neither flag yet (one update for both); b: its Send was recorded by an earlier batch.
    const { db, items, sizes } = ledgerWith({ "R#b@example.com": ["sendEventAt"] });
    const store = new LedgerStore(db as never, "ledger");
    const facts = [
      fact("a@example.com", "sendEventAt"),
      fact("b@example.com", "sendEventAt"),
      fact("a@example.com", "deliveredAt"),
      fact("b@example.com", "deliveredAt"),
    ];
    const outcomes = await store.feedback.recordFirstAll(facts, (recorded) => [
      counterWrite(recorded.length),
    ]);
    expect(outcomes).toEqual(["recorded", "duplicate", "recorded", "recorded"]);
    expect(items.get("R#a@example.com")).toEqual(new Set(["sendEventAt", "deliveredAt"]));
    expect(items.get("R#b@example.com")).toEqual(new Set(["sendEventAt", "deliveredAt"]));
    // Both items in one transaction; b refused; a written alone; then b's facts one at a time.
    expect(sizes).toEqual([3, 2, 2, 2]);
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
