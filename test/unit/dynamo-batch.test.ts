import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batchGetAll, batchWriteAll } from "../../lambdas/adapters/dynamo/batch.ts";
import {
  decodeKeyCursor,
  encodeKeyCursor,
  InvalidCursorError,
} from "../../lambdas/adapters/dynamo/cursor.ts";
import { subscriberKey } from "../../lambdas/adapters/dynamo/keys.ts";
import { SubscriberStore } from "../../lambdas/adapters/subscriber-store.ts";
import { UnprocessedItemsError, untilProcessed } from "../../lambdas/shared/retry.ts";

const db = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(db);
const TABLE = "audience";

type Key = { pk: string; sk: string };
const subscriberItem = (key: Key) => ({
  ...key,
  email: key.sk.slice(4),
  attributes: { name: key.sk.slice(4, 6) },
  status: "subscribed",
});

beforeEach(() => mock.reset());
afterEach(() => vi.restoreAllMocks());

describe("SubscriberStore.subscribersOf", () => {
  it("reads again the keys DynamoDB left unprocessed, until every subscriber is read", async () => {
    const emails = Array.from({ length: 130 }, (_, i) => `user${i}@example.com`);
    let calls = 0;
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Key[] }> }) => {
      calls++;
      const keys = input.RequestItems[TABLE]?.Keys ?? [];
      // Every call answers only its first third and leaves the rest unprocessed.
      const answered = keys.slice(0, Math.ceil(keys.length / 3));
      const left = keys.slice(answered.length);
      return {
        Responses: { [TABLE]: answered.map(subscriberItem) },
        ...(left.length ? { UnprocessedKeys: { [TABLE]: { Keys: left } } } : {}),
      };
    });
    const found = await new SubscriberStore(db, TABLE).subscribersOf("L1", emails);
    expect(found.map((s) => s.email).sort()).toEqual([...emails].sort());
    // Merge fields come with each one: none is re-queued with empty attributes.
    expect(found.every((s) => typeof s.attributes.name === "string")).toBe(true);
    expect(calls).toBeGreaterThan(2);
  });

  it("fails loudly when keys stay unprocessed, rather than return part of the recipients", async () => {
    // No backoff waits: the jitter draws 0.
    vi.spyOn(Math, "random").mockReturnValue(0);
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Key[] }> }) => {
      const keys = input.RequestItems[TABLE]?.Keys ?? [];
      return { Responses: { [TABLE]: [] }, UnprocessedKeys: { [TABLE]: { Keys: keys.slice(0, 1) } } };
    });
    await expect(
      new SubscriberStore(db, TABLE).subscribersOf("L1", ["a@example.com"]),
    ).rejects.toBeInstanceOf(UnprocessedItemsError);
  });

  it("leaves out addresses that are no longer on the list", async () => {
    mock
      .on(BatchGetCommand)
      .resolves({ Responses: { [TABLE]: [subscriberItem(subscriberKey("L1", "a@example.com"))] } });
    const found = await new SubscriberStore(db, TABLE).subscribersOf("L1", [
      "a@example.com",
      "gone@example.com",
    ]);
    expect(found.map((s) => s.email)).toEqual(["a@example.com"]);
  });
});

describe("batch writes", () => {
  it("retries only the unprocessed requests and writes each request once", async () => {
    const written: string[] = [];
    let first = true;
    mock
      .on(BatchWriteCommand)
      .callsFake((input: { RequestItems: Record<string, { PutRequest: { Item: Key } }[]> }) => {
        const requests = input.RequestItems[TABLE] ?? [];
        const keep = first ? requests.slice(0, 10) : requests;
        first = false;
        written.push(...keep.map((r) => r.PutRequest.Item.sk));
        return {
          UnprocessedItems: requests.length > keep.length ? { [TABLE]: requests.slice(keep.length) } : {},
        };
      });
    const items = Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: { pk: "P", sk: `S${i}` } } }));
    await batchWriteAll(db, TABLE, items);
    expect(written.sort()).toEqual(items.map((r) => r.PutRequest.Item.sk).sort());
  });

  it("reads in requests of at most 100 keys", async () => {
    const sizes: number[] = [];
    mock.on(BatchGetCommand).callsFake((input: { RequestItems: Record<string, { Keys: Key[] }> }) => {
      sizes.push(input.RequestItems[TABLE]?.Keys.length ?? 0);
      return { Responses: { [TABLE]: [] } };
    });
    await batchGetAll(
      db,
      TABLE,
      Array.from({ length: 250 }, (_, i) => ({ pk: "P", sk: `S${i}` })),
    );
    expect(sizes).toEqual([100, 100, 50]);
  });
});

describe("the leftover retry policy", () => {
  it("keeps going while calls make progress, and stops after the policy's attempts without any", async () => {
    let attempts = 0;
    const run = untilProcessed(
      "test call",
      [1, 2, 3],
      // Two calls that each get one item done, then nothing more.
      async (pending) => {
        attempts++;
        return pending.length > 1 ? pending.slice(1) : pending;
      },
      { attempts: 2, baseMs: 1, capMs: 1 },
    );
    await expect(run).rejects.toThrow(
      "test call: 1 item(s) still unprocessed after 2 attempts in a row that did nothing",
    );
    expect(attempts).toBe(4);
  });
});

describe("the page cursor", () => {
  it("round-trips a key of the partition being read", () => {
    const cursor = encodeKeyCursor({ pk: "LIST#1", sk: "SUB#a@example.com", extra: "dropped" });
    expect(decodeKeyCursor(cursor, "LIST#1", "SUB#")).toEqual({ pk: "LIST#1", sk: "SUB#a@example.com" });
  });

  it("refuses a cursor of another partition, a forged one and garbage", () => {
    const other = encodeKeyCursor({ pk: "LIST#2", sk: "SUB#a@example.com" });
    expect(() => decodeKeyCursor(other, "LIST#1", "SUB#")).toThrow(InvalidCursorError);
    const wrongPrefix = encodeKeyCursor({ pk: "LIST#1", sk: "#META" });
    expect(() => decodeKeyCursor(wrongPrefix, "LIST#1", "SUB#")).toThrow(InvalidCursorError);
    for (const raw of ["%%%", "bm90IGpzb24", Buffer.from("[1,2]").toString("base64url"), "x".repeat(5000)])
      expect(() => decodeKeyCursor(raw, "LIST#1")).toThrow(InvalidCursorError);
  });
});
