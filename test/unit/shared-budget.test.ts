import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { type BudgetView, SenderBudgetStore } from "../../lambdas/adapters/sender-budget-store.ts";
import { CHECK_IN_MS, SharedBudget } from "../../lambdas/sender/shared-budget.ts";

/** The budget item as DynamoDB would keep it, for several senders at once. */
class MemoryBudget {
  readonly item: Record<string, number> = {};
  failing = false;
  async checkIn(
    sender: string,
    nowMs: number,
    untilMs: number,
    options: { learned?: BudgetView["learned"]; expired?: readonly string[] } = {},
  ) {
    if (this.failing) throw new Error("DynamoDB unavailable");
    this.item[`sender_${sender}`] = untilMs;
    if (options.learned)
      Object.assign(this.item, { learnedRate: options.learned.rate, learnedAt: options.learned.at });
    for (const name of options.expired ?? []) delete this.item[name];
    const entries = Object.entries(this.item).filter(([k]) => k.startsWith("sender_"));
    return {
      senders: entries.filter(([, until]) => until > nowMs).length,
      expired: entries.filter(([, until]) => until <= nowMs).map(([k]) => k),
      ...(this.item.learnedRate
        ? { learned: { rate: this.item.learnedRate, at: this.item.learnedAt as number } }
        : {}),
    };
  }
}

class FakeSes {
  senders: number[] = [];
  ceiling: { rate: number; at: number } | undefined;
  adopted: number[] = [];
  setSenders(n: number) {
    this.senders.push(n);
  }
  homeCeiling() {
    return this.ceiling;
  }
  adoptHomeCeiling(c: number, at = 0) {
    this.ceiling = { rate: c, at };
    this.adopted.push(c);
  }
}

/** Two senders of a region (configured concurrency 2) on one budget item, on a clock of the test's. */
function twoSenders() {
  const clock = { now: 1_000_000 };
  const store = new MemoryBudget();
  const a = new FakeSes();
  const b = new FakeSes();
  const budgetA = new SharedBudget(store, a, "a", 2, () => clock.now);
  const budgetB = new SharedBudget(store, b, "b", 2, () => clock.now);
  return { store, a, b, budgetA, budgetB, clock };
}

describe("the region's shared sending budget", () => {
  it("divides the region by the senders sending: more at once, fewer once two views agree", async () => {
    const { store, a, b, budgetA, budgetB, clock } = twoSenders();
    // A starts alone, but assumes the configured two until a second view agrees.
    await budgetA.refresh();
    expect(a.senders.at(-1)).toBe(2);
    clock.now += 1000;
    await budgetA.refresh();
    expect(a.senders.at(-1)).toBe(1);
    // B joins: B sees two at once, and so does A at its next check-in.
    await budgetB.refresh();
    expect(b.senders.at(-1)).toBe(2);
    await budgetA.refresh();
    expect(a.senders.at(-1)).toBe(2);
    // B stops (no more work, or crashed): its check-in runs out, and A takes the whole region.
    clock.now += CHECK_IN_MS + 1;
    await budgetA.refresh();
    expect(a.senders.at(-1)).toBe(2);
    clock.now += 1000;
    await budgetA.refresh();
    expect(a.senders.at(-1)).toBe(1);
    expect(Object.keys(store.item).filter((k) => k.startsWith("sender_"))).toEqual(["sender_a"]);
  });

  it("shares a rate learned from 429s, so other senders hold just under it, and keeps its view when the store fails", async () => {
    const { store, a, b, budgetA, budgetB, clock } = twoSenders();
    await budgetA.refresh();
    await budgetB.refresh();
    // A learns that it gets 12/s through: the region takes 24/s across its two senders.
    a.ceiling = { rate: 12, at: clock.now };
    clock.now += 1000;
    await budgetA.refresh();
    expect(store.item.learnedRate).toBe(24);
    await budgetB.refresh();
    expect(b.adopted.at(-1)).toBe(12);
    store.failing = true;
    await expect(budgetB.refresh()).resolves.toBeUndefined();
    expect(b.ceiling?.rate).toBe(12);
  });
});

describe("the budget item", () => {
  it("counts live check-ins, lists expired ones and removes those it is told of", async () => {
    const db = mockClient(DynamoDBDocumentClient);
    db.on(UpdateCommand).resolves({
      Attributes: { sender_a: 2_000, sender_b: 500, sender_c: 3_000, learnedRate: 40, learnedAt: 900 },
    });
    const store = new SenderBudgetStore(db as never, "audience", "us-east-1");
    const view = await store.checkIn("a", 1_000, 2_000, { expired: ["sender_old"] });
    expect(view).toEqual({ senders: 2, expired: ["sender_b"], learned: { rate: 40, at: 900 } });
    const input = db.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ pk: "SENDERS#us-east-1", sk: "#BUDGET" });
    expect(input?.UpdateExpression).toBe("SET #me = :until REMOVE #x0");
    expect(input?.ExpressionAttributeNames).toEqual({ "#me": "sender_a", "#x0": "sender_old" });
  });
});
