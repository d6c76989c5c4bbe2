import { describe, expect, it } from "vitest";
import {
  type Campaign,
  contentBytes,
  deriveStatus,
  MAX_CONTENT_BYTES,
} from "../../lambdas/domain/campaign.ts";
import { LEDGER_SHARDS, ledgerKey, shardOf } from "../../lambdas/adapters/dynamo/keys.ts";
import { emptyCounts, isTerminal } from "../../lambdas/domain/ledger.ts";

describe("ledger keys", () => {
  it("puts a recipient in one stable shard and spreads recipients over all shards", () => {
    expect(shardOf("a@example.com")).toBe(shardOf("a@example.com"));
    const seen = new Map<number, number>();
    for (let i = 0; i < 16_000; i++) {
      const shard = shardOf(`user${i}@example.com`);
      seen.set(shard, (seen.get(shard) ?? 0) + 1);
    }
    expect(seen.size).toBe(LEDGER_SHARDS);
    // Even enough that no shard carries more than 1.5× its share.
    expect(Math.max(...seen.values())).toBeLessThan(1500);
  });

  it("keys an item by campaign shard and recipient", () => {
    const key = ledgerKey("c1", "a@example.com");
    expect(key.pk).toMatch(/^C#c1#\d{2}$/);
    expect(key.sk).toBe("R#a@example.com");
  });

  it("knows which states are terminal", () => {
    expect(["sent", "failed", "suppressed", "cancelled"].every((s) => isTerminal(s as never))).toBe(true);
    expect(isTerminal("queued")).toBe(false);
    expect(isTerminal("sending")).toBe(false);
  });
});

describe("campaign status", () => {
  const base: Campaign = {
    id: "c",
    listId: "l",
    from: "a@example.com",
    subject: "s",
    html: "h",
    status: "sending",
    createdAt: "",
    updatedAt: "",
  };

  it("is sent only when fan-out is done and nobody is pending", () => {
    const counts = { ...emptyCounts(), total: 3, sent: 2, failed: 1 };
    expect(deriveStatus({ ...base, fanoutDone: true }, counts)).toBe("sent");
    expect(deriveStatus({ ...base, fanoutDone: false }, counts)).toBe("sending");
    expect(deriveStatus({ ...base, fanoutDone: true }, { ...counts, sending: 1, total: 4 })).toBe("sending");
    expect(deriveStatus({ ...base, status: "draft" }, emptyCounts())).toBe("draft");
  });
});

describe("campaign content size", () => {
  it("counts subject, html and text together in UTF-8 bytes, within what one item can hold", () => {
    expect(contentBytes({ subject: "é", html: "ab", text: "€" })).toBe(2 + 2 + 3);
    expect(contentBytes({ subject: "s", html: "h" })).toBe(2);
    // A DynamoDB item holds at most 400 KB, names and every other attribute included.
    expect(MAX_CONTENT_BYTES).toBeLessThan(400 * 1024 - 50 * 1024);
  });
});
