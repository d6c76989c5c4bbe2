import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";
import { controlFaults } from "../../local/client.ts";

/**
 * The local runtime's global tables behave like DynamoDB global tables in their default mode
 * (multi-region eventual consistency): one replica per region, written through the real SDK, each
 * region's writes reaching the others after the replication lag, item by item, last writer wins.
 */
let runtime: LocalRuntime;
let east: DynamoDBDocumentClient;
let west: DynamoDBDocumentClient;
const AUDIENCE = "steadfast-audience";
const LEDGER = "steadfast-ledger";
const LAG_MS = 1000;

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false, replicationLagMs: LAG_MS });
  expect(runtime.info.regions.map((r) => r.name)).toEqual(["us-east-1", "us-west-2"]);
  east = localDocumentClient(runtime, "us-east-1");
  west = localDocumentClient(runtime, "us-west-2");
});

afterAll(async () => {
  await runtime?.stop();
});

afterEach(async () => {
  await control("DELETE");
});

const control = (method: "POST" | "DELETE", body?: unknown) =>
  controlFaults(runtime.info.controlUrl, method, body);

let counter = 0;
const uniqueKey = (label: string) => ({ pk: `global-table-test#${label}#${++counter}`, sk: "item" });
type Key = ReturnType<typeof uniqueKey>;

const read = async (db: DynamoDBDocumentClient, { pk, sk }: Key, table = AUDIENCE) =>
  (await db.send(new GetCommand({ TableName: table, Key: { pk, sk }, ConsistentRead: true }))).Item;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds; returns when it first did (ms since epoch). */
async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Writes `item` in one replica and times its arrival in another (never-seen polls before it). */
async function timeArrival(
  from: DynamoDBDocumentClient,
  to: DynamoDBDocumentClient,
  item: Key & { value: string },
) {
  const before = Date.now();
  await from.send(new PutCommand({ TableName: AUDIENCE, Item: item }));
  const written = Date.now();
  const polls: { at: number; seen: boolean }[] = [];
  const arrived = await until(async () => {
    const seen = (await read(to, item)) !== undefined;
    polls.push({ at: Date.now() - before, seen });
    return seen;
  });
  return { sinceIssued: arrived - before, sinceAcknowledged: arrived - written, polls };
}

describe("global tables on the local runtime", () => {
  it("shows a write in region A to region B after the lag, and not before", async () => {
    const item = { ...uniqueKey("lag"), value: "written in us-east-1" };
    const { sinceIssued, sinceAcknowledged, polls } = await timeArrival(east, west, item);
    console.info(
      `replication: visible in us-west-2 ${sinceAcknowledged} ms after the write (lag ${LAG_MS} ms)`,
    );
    expect(sinceIssued).toBeGreaterThanOrEqual(LAG_MS);
    expect(sinceAcknowledged).toBeLessThan(LAG_MS + 1000);
    // Read again and again in between (a read every 20 ms, as fast as a busy machine answers), and
    // never seen before the lag had passed.
    expect(polls.filter((p) => p.at < LAG_MS).length).toBeGreaterThanOrEqual(3);
    expect(polls.filter((p) => p.seen).every((p) => p.at >= LAG_MS)).toBe(true);
    // The other way round too.
    const back = await timeArrival(west, east, { ...uniqueKey("lag-back"), value: "written in us-west-2" });
    expect(back.sinceIssued).toBeGreaterThanOrEqual(LAG_MS);
    expect(back.sinceAcknowledged).toBeLessThan(LAG_MS + 1000);
  });

  it("takes the lag set through the control API, then the runtime's own again once healed", async () => {
    await control("POST", { target: "replication", mode: "lag", ms: 3000 });
    const slow = await timeArrival(east, west, { ...uniqueKey("lag-fault"), value: "slow" });
    console.info(`replication with a 3000 ms lag fault: visible after ${slow.sinceAcknowledged} ms`);
    expect(slow.sinceIssued).toBeGreaterThanOrEqual(3000);
    expect(slow.sinceAcknowledged).toBeLessThan(4000);
    await control("DELETE");
    const healed = await timeArrival(east, west, { ...uniqueKey("lag-healed"), value: "fast" });
    expect(healed.sinceIssued).toBeGreaterThanOrEqual(LAG_MS);
    expect(healed.sinceAcknowledged).toBeLessThan(LAG_MS + 1000);
  });

  it("converges concurrent writes to one item in both regions to the later one, whole item", async () => {
    const key = uniqueKey("concurrent");
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: { ...key, value: "east", onlyEast: 1 } }));
    await sleep(300);
    await west.send(new PutCommand({ TableName: AUDIENCE, Item: { ...key, value: "west" } }));
    // Before the lag each region sees its own write.
    expect((await read(east, key))?.value).toBe("east");
    expect((await read(west, key))?.value).toBe("west");
    await sleep(LAG_MS + 1500);
    expect(await read(east, key)).toEqual({ ...key, value: "west" });
    expect(await read(west, key)).toEqual({ ...key, value: "west" });
  });

  it("checks a conditional write in region B against B's replica only: A's unreplicated write is not there", async () => {
    const key = uniqueKey("conditional");
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: { ...key, owner: "east" } }));
    // Still well within the lag, and later by more than the replicator's reading of the streams.
    await sleep(300);
    // Strongly consistent everywhere, this would fail; on a global table it succeeds in B.
    await west.send(
      new PutCommand({
        TableName: AUDIENCE,
        Item: { ...key, owner: "west" },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    expect((await read(west, key, AUDIENCE))?.owner).toBe("west");
    await sleep(LAG_MS + 1500);
    // Both succeeded; the later one wins everywhere.
    expect((await read(east, key))?.owner).toBe("west");
    expect((await read(west, key))?.owner).toBe("west");
    // Once replicated, B's condition sees A's write.
    await expect(
      west.send(
        new PutCommand({
          TableName: AUDIENCE,
          Item: { ...key, owner: "again" },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    ).rejects.toMatchObject({ name: "ConditionalCheckFailedException" });
  });

  it("keeps writes in their region while replication is down, and replicates them last writer winning when healed", async () => {
    await control("POST", { target: "replication", mode: "down" });
    const shared = uniqueKey("down-shared");
    const eastOnly = uniqueKey("down-east");
    const westOnly = uniqueKey("down-west");
    await west.send(new PutCommand({ TableName: AUDIENCE, Item: { ...shared, value: "west, earlier" } }));
    await west.send(new PutCommand({ TableName: AUDIENCE, Item: { ...westOnly, value: "west" } }));
    await sleep(300);
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: { ...shared, value: "east, later" } }));
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: { ...eastOnly, value: "east" } }));
    await sleep(LAG_MS * 3);
    expect((await read(east, shared))?.value).toBe("east, later");
    expect((await read(west, shared))?.value).toBe("west, earlier");
    expect(await read(west, eastOnly)).toBeUndefined();
    expect(await read(east, westOnly)).toBeUndefined();

    const healedAt = Date.now();
    await control("DELETE");
    const converged = await until(
      async () =>
        (await read(west, shared))?.value === "east, later" &&
        (await read(west, eastOnly)) !== undefined &&
        (await read(east, westOnly)) !== undefined,
    );
    console.info(`replication down, healed: converged ${converged - healedAt} ms after healing`);
    // Held back longer than the lag, so delivered at once.
    expect(converged - healedAt).toBeLessThan(1000);
    expect((await read(east, shared))?.value).toBe("east, later");
  });

  it("finds region A's item through a GSI query in region B once replicated (each replica keeps its own index)", async () => {
    const key = uniqueKey("gsi");
    const sesMessageId = `gsi-test-${key.pk}`;
    const query = () =>
      west.send(
        new QueryCommand({
          TableName: LEDGER,
          IndexName: "bySesMessageId",
          KeyConditionExpression: "sesMessageId = :id",
          ExpressionAttributeValues: { ":id": sesMessageId },
        }),
      );
    const before = Date.now();
    await east.send(new PutCommand({ TableName: LEDGER, Item: { ...key, sesMessageId, status: "sent" } }));
    expect((await query()).Items ?? []).toEqual([]);
    const found = await until(async () => ((await query()).Items ?? []).length > 0);
    expect(found - before).toBeGreaterThanOrEqual(LAG_MS);
    expect((await query()).Items).toEqual([{ ...key, sesMessageId, status: "sent" }]);
  });

  it("replicates a delete, and a batch or transaction item by item", async () => {
    const key = uniqueKey("delete");
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: { ...key, value: "doomed" } }));
    await until(async () => (await read(west, key)) !== undefined);
    const deletedAt = Date.now();
    await east.send(new DeleteCommand({ TableName: AUDIENCE, Key: key }));
    expect(await read(west, key)).toBeDefined();
    const gone = await until(async () => (await read(west, key)) === undefined);
    expect(gone - deletedAt).toBeGreaterThanOrEqual(LAG_MS);

    const [first, second, third] = [uniqueKey("batch"), uniqueKey("transaction"), uniqueKey("transaction")];
    await east.send(
      new BatchWriteCommand({
        RequestItems: { [AUDIENCE]: [{ PutRequest: { Item: { ...first, via: "batch" } } }] },
      }),
    );
    await east.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: AUDIENCE, Item: { ...second, via: "transaction" } } },
          { Put: { TableName: AUDIENCE, Item: { ...third, via: "transaction" } } },
        ],
      }),
    );
    await until(async () => (await read(west, third)) !== undefined);
    expect(await read(west, first)).toEqual({ ...first, via: "batch" });
    expect(await read(west, second)).toEqual({ ...second, via: "transaction" });
  });

  it("replicates every kind of attribute value exactly, empty maps and lists, sets and binary included", async () => {
    const key = uniqueKey("types");
    const item = {
      ...key,
      text: "",
      number: 1.5,
      flag: false,
      nothing: null,
      bytes: new Uint8Array([0, 1, 254]),
      emptyMap: {},
      emptyList: [],
      nested: { inner: {}, list: [{}, [], "x", 2] },
      strings: new Set(["b", "a"]),
      numbers: new Set([3, 1]),
    };
    await east.send(new PutCommand({ TableName: AUDIENCE, Item: item }));
    await until(async () => (await read(west, key)) !== undefined);
    expect(await read(west, key)).toEqual(await read(east, key));
    expect((await read(west, key))?.nested).toEqual({ inner: {}, list: [{}, [], "x", 2] });
  });

  it("replicates an item that expired by TTL in its region as a delete", async () => {
    const key = uniqueKey("ttl");
    await east.send(
      new PutCommand({
        TableName: AUDIENCE,
        Item: { ...key, expiresAt: Math.floor(Date.now() / 1000) + 2 },
      }),
    );
    await until(async () => (await read(west, key)) !== undefined);
    await until(
      async () => (await read(east, key)) === undefined && (await read(west, key)) === undefined,
      60_000,
    );
  });
});
