import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../lambdas/contracts/env.ts";
import { controlFaults, sesStore, SteadfastClient, waitForCampaign } from "../../local/client.ts";
import { LOCAL_CREDENTIALS } from "../../local/local-account.ts";
import { COORDINATION_REGION_ENV, provisionTables } from "../../local/provision.ts";
import {
  coordinationClient,
  type LocalRuntime,
  localDocumentClient,
  startLocalRuntime,
} from "../../local/runtime.ts";
import type { CoordinationTables } from "../../local/runtime-types.ts";

/**
 * A whole region down while the other goes on (`{ "target": "region" }` on the control API), and
 * the strongly consistent coordination table: one store every region reaches through its own
 * DynamoDB endpoint, which a region that is down cannot reach.
 */
let runtime: LocalRuntime;
const HOME = "us-east-1";
const DOWN = "us-west-2";
const AUDIENCE = "steadfast-audience";
// Long enough that "replicated at once" on healing (well under a lag) stands apart from "after
// another lag" even on a busy 2-core machine, where catching up has taken 1.4 s.
const LAG_MS = 2_500;

beforeAll(async () => {
  runtime = await startLocalRuntime({
    writeInfo: false,
    replicationLagMs: LAG_MS,
    scheduleIntervalMs: 1000,
  });
  expect(runtime.info.regions.map((r) => r.name)).toEqual([HOME, DOWN]);
});

afterAll(async () => {
  await runtime?.stop();
});

afterEach(async () => {
  await control("DELETE");
});

const control = (method: "POST" | "DELETE", body?: unknown) =>
  controlFaults(runtime.info.controlUrl, method, body);

async function controlGet<T>(path: string): Promise<T> {
  return (await (await fetch(`${runtime.info.controlUrl}${path}`)).json()) as T;
}

const regionOf = (name: string) => {
  const found = runtime.regions.find((r) => r.name === name);
  if (!found) throw new Error(`no region ${name}`);
  return found;
};
const apiOf = (name: string) => new SteadfastClient(regionOf(name).apiUrl, runtime.info.apiKey);

/** Whether connecting to `url` is refused (rather than answered, whatever the answer). */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url);
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === "ECONNREFUSED";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds; returns when it first did (ms since epoch). */
async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return Date.now();
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

const read = async (db: DynamoDBDocumentClient, key: { pk: string; sk: string }, table = AUDIENCE) =>
  (await db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

const invocations = async (role: string, region: string) =>
  (await controlGet<{ invocations: Record<string, Record<string, number>> }>("/stats")).invocations[role]?.[
    region
  ] ?? 0;

describe("a region down", () => {
  it("stops the whole region while the other goes on, and brings it back with its queue drained and its replica caught up", async () => {
    const home = localDocumentClient(runtime, HOME);
    const downReplica = localDocumentClient(runtime, DOWN);
    const sqs = new SQSClient({
      region: DOWN,
      endpoint: runtime.endpoints.sqs,
      credentials: LOCAL_CREDENTIALS,
      useQueueUrlAsEndpoint: false,
    });
    const fanoutQueue = regionOf(DOWN).pools.get("fanout")?.spec.environment[ENV.fanoutQueueUrl] as string;
    expect(fanoutQueue).toBeDefined();
    const queueDepth = async () => {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: fanoutQueue,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return (
        Number(Attributes.ApproximateNumberOfMessages) +
        Number(Attributes.ApproximateNumberOfMessagesNotVisible)
      );
    };
    // A draft campaign in the region that goes down: a fan-out message for it is taken and dropped.
    const downApi = apiOf(DOWN);
    const list = await downApi.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Region down" });
    const draft = await downApi.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId: list.id,
      subject: "Draft",
      html: "<p>Not sent</p>",
    });

    await control("POST", { target: "region", region: DOWN, mode: "down" });
    const downAt = Date.now();
    expect((await controlGet<{ regions: unknown }>("/stats")).regions).toEqual({
      [HOME]: "up",
      [DOWN]: "down",
    });
    expect(await controlGet("/faults")).toMatchObject({
      regions: { [HOME]: "up", [DOWN]: "down" },
      replication: { down: false, isolatedRegions: [DOWN] },
    });

    // The region's API and endpoints refuse connections, to everyone.
    expect(await refused(`${regionOf(DOWN).apiUrl}/health`)).toBe(true);
    for (const proxy of Object.values(regionOf(DOWN).proxies)) expect(await refused(proxy.url)).toBe(true);
    // The other region goes on: its API answers and writes.
    const homeApi = apiOf(HOME);
    expect((await homeApi.request("GET", "/health")).status).toBe(200);
    const homeList = await homeApi.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "While down" });

    const fromHome = { pk: `region-down-test#home#${downAt}`, sk: "item" };
    const shared = { pk: `region-down-test#shared#${downAt}`, sk: "item" };
    const fromDown = { pk: `region-down-test#down#${downAt}`, sk: "item" };
    // What the region committed just before it went dark, not replicated yet: written straight to
    // its replica (nothing else reaches it now).
    await downReplica.send(
      new PutCommand({ TableName: AUDIENCE, Item: { ...shared, value: "down, earlier" } }),
    );
    await downReplica.send(new PutCommand({ TableName: AUDIENCE, Item: { ...fromDown, value: "down" } }));
    await sleep(100);
    await home.send(new PutCommand({ TableName: AUDIENCE, Item: { ...shared, value: "home, later" } }));
    await home.send(new PutCommand({ TableName: AUDIENCE, Item: { ...fromHome, value: "home" } }));
    // A message lands on the region's fan-out queue (straight into the emulator).
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: fanoutQueue,
        MessageBody: JSON.stringify({ campaignId: draft.id }),
      }),
    );

    const fanoutBefore = await invocations("fanout", DOWN);
    const schedulerBefore = await invocations("scheduler", DOWN);
    const homeSchedulerBefore = await invocations("scheduler", HOME);
    // Past the replication lag and a few schedule ticks.
    await sleep(LAG_MS * 3);
    expect(await read(downReplica, fromHome)).toBeUndefined();
    expect((await read(downReplica, shared))?.value).toBe("down, earlier");
    expect(await read(home, fromDown)).toBeUndefined();
    expect(await queueDepth()).toBe(1);
    expect(await invocations("fanout", DOWN)).toBe(fanoutBefore);
    expect(await invocations("scheduler", DOWN)).toBe(schedulerBefore);
    expect(await invocations("scheduler", HOME)).toBeGreaterThan(homeSchedulerBefore);

    const healedAt = Date.now();
    await control("POST", { target: "region", region: DOWN, mode: "ok" });
    expect((await controlGet<{ regions: unknown }>("/stats")).regions).toEqual({
      [HOME]: "up",
      [DOWN]: "up",
    });
    // Held back longer than the lag: replicated at once, both ways, last writer winning.
    const caughtUp = await until(
      async () =>
        (await read(downReplica, fromHome)) !== undefined &&
        (await read(downReplica, shared))?.value === "home, later" &&
        (await read(home, fromDown)) !== undefined,
    );
    expect((await read(home, shared))?.value).toBe("home, later");
    expect((await downApi.request("GET", "/health")).status).toBe(200);
    // The list the other region's API made while this one was down reaches its API.
    await until(async () => (await downApi.request("GET", `/v1/lists/${homeList.id}`)).status === 200);
    // Its pollers are back: the message waiting on its queue is taken, and its schedule ticks again.
    const drained = await until(async () => (await queueDepth()) === 0);
    expect(await invocations("fanout", DOWN)).toBeGreaterThan(fanoutBefore);
    await until(async () => (await invocations("scheduler", DOWN)) > schedulerBefore);
    console.info(
      `region back: replicas caught up ${caughtUp - healedAt} ms, its queue drained ${drained - healedAt} ms after it came back`,
    );
    expect(caughtUp - healedAt).toBeLessThan(LAG_MS);
    sqs.destroy();
  });
});

describe("the coordination table (multi-region strong consistency)", () => {
  const TABLE = "steadfast-coordination-local-test";
  let coordination: CoordinationTables;
  const via = (region: string) => coordinationClient({ regions: runtime.regions, coordination }, region);

  beforeAll(async () => {
    // A strongly consistent table as the CDK's TableV2 synthesizes it, provisioned the way the
    // runtime provisions the app's own.
    const provisioned = await provisionTables(
      {
        dir: runtime.assembly.dir,
        stacks: [
          {
            stackName: "coordination-test",
            region: HOME,
            outputs: {},
            resources: {
              Coordination: {
                Type: "AWS::DynamoDB::GlobalTable",
                Properties: {
                  TableName: TABLE,
                  BillingMode: "PAY_PER_REQUEST",
                  MultiRegionConsistency: "STRONG",
                  KeySchema: [
                    { AttributeName: "pk", KeyType: "HASH" },
                    { AttributeName: "sk", KeyType: "RANGE" },
                  ],
                  AttributeDefinitions: [
                    { AttributeName: "pk", AttributeType: "S" },
                    { AttributeName: "sk", AttributeType: "S" },
                  ],
                  Replicas: [{ Region: DOWN }, { Region: HOME }],
                  GlobalTableWitnesses: [{ Region: "us-east-2" }],
                },
              },
            },
          },
        ],
      },
      runtime.endpoints.dynamodb,
    );
    expect(provisioned.globalTables).toEqual([]);
    expect(provisioned.coordination).toEqual({ region: HOME, tables: [TABLE] });
    coordination = provisioned.coordination as CoordinationTables;
  });

  it("tells every function of every region where the app's coordination tables are, if it has any", () => {
    for (const region of runtime.regions)
      for (const pool of region.pools.values())
        expect(pool.spec.environment[COORDINATION_REGION_ENV]).toBe(runtime.coordination?.region);
  });

  it("shows a write made through one region to a strongly consistent read through the other at once, whatever the replication lag", async () => {
    await control("POST", { target: "replication", mode: "lag", ms: 5000 });
    const key = { pk: `coordination-test#${Date.now()}`, sk: "lock" };
    const started = Date.now();
    await via(HOME).send(new PutCommand({ TableName: TABLE, Item: { ...key, owner: "home", version: 1 } }));
    expect(await read(via(DOWN), key, TABLE)).toEqual({ ...key, owner: "home", version: 1 });
    // A conditional write through the other region sees it too: one table, not two replicas.
    await expect(
      via(DOWN).send(
        new PutCommand({ TableName: TABLE, Item: key, ConditionExpression: "attribute_not_exists(pk)" }),
      ),
    ).rejects.toMatchObject({ name: "ConditionalCheckFailedException" });
    await via(DOWN).send(
      new UpdateCommand({
        TableName: TABLE,
        Key: key,
        UpdateExpression: "SET #owner = :down, version = :next",
        ConditionExpression: "version = :seen",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":down": "down", ":next": 2, ":seen": 1 },
      }),
    );
    expect(await read(via(HOME), key, TABLE)).toEqual({ ...key, owner: "down", version: 2 });
    // Each read above was made once, right after the write: nothing waited out the 5 s lag. Four
    // calls have taken 1.6 s on a busy 2-core machine.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("is out of reach of a region that is down, or whose DynamoDB fails, and in reach of the others", async () => {
    const key = { pk: `coordination-outage-test#${Date.now()}`, sk: "lock" };
    await control("POST", { target: "region", region: HOME, mode: "down" });
    // The table lives in the home region's store, yet the other region reads and writes it.
    await via(DOWN).send(new PutCommand({ TableName: TABLE, Item: { ...key, owner: "down" } }));
    expect((await read(via(DOWN), key, TABLE))?.owner).toBe("down");
    await expect(read(via(HOME), key, TABLE)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await control("POST", { target: "region", region: HOME, mode: "ok" });
    expect((await read(via(HOME), key, TABLE))?.owner).toBe("down");

    await control("POST", { target: "dynamodb", region: DOWN, mode: "error", error: "InternalServerError" });
    await expect(read(via(DOWN), key, TABLE)).rejects.toMatchObject({ name: "InternalServerError" });
    await via(HOME).send(new PutCommand({ TableName: TABLE, Item: { ...key, owner: "home" } }));
    expect((await read(via(HOME), key, TABLE))?.owner).toBe("home");
  });
});

describe("GET /health", () => {
  it("checks the region's replica, queues and SES: degraded when only SES fails, 503 when its DynamoDB does", async () => {
    const health = async (region: string) => {
      const response = await fetch(`${regionOf(region).apiUrl}/health`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const ok = { dynamodb: "ok", queues: "ok", ses: "ok" };
    expect(await health(HOME)).toEqual({ status: 200, body: { status: "ok", checks: ok } });

    await control("POST", { target: "ses", region: HOME, mode: "down" });
    expect(await health(HOME)).toEqual({
      status: 200,
      body: { status: "degraded", checks: { ...ok, ses: "failing" } },
    });
    expect((await health(DOWN)).body.status).toBe("ok");

    await control("POST", { target: "dynamodb", region: HOME, mode: "error", error: "InternalServerError" });
    expect(await health(HOME)).toEqual({
      status: 503,
      body: { status: "unavailable", checks: { dynamodb: "failing", queues: "ok", ses: "failing" } },
    });
    await control("DELETE");
    expect((await health(HOME)).body.status).toBe("ok");
  });
});

/** Waits until the shared hostname sends requests to `region` (its health checks run every second; 3 in a row change its status). */
async function sharedRoutesTo(region: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const health = await fetch(`${runtime.info.sharedApiUrl}/health`);
    if (health.headers.get("x-steadfast-region") === region) return;
    if (Date.now() > deadline) throw new Error(`the shared hostname never routed to ${region}`);
    await sleep(250);
  }
}

describe("the shared hostname", () => {
  it("keeps answering with the primary region down, and a link mailed before the outage works during it", async () => {
    // A fault of an earlier test may still count against the primary until its next health check:
    // a request routed to the other region, and the next one back here, would race replication.
    await sharedRoutesTo(HOME);
    const shared = new SteadfastClient(runtime.info.sharedApiUrl, runtime.info.apiKey);
    const email = `shared-${Date.now()}@example.net`;
    const { id: listId } = await shared.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Shared" });
    await shared.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, { subscribers: [{ email }] });
    // The shared hostname may route the next request to the other region (a health check that
    // failed on a busy machine): wait until both replicas have the list and its subscriber.
    for (const region of [HOME, DOWN]) {
      const visibleBy = Date.now() + 10_000;
      const path = `/v1/lists/${listId}/subscribers/${encodeURIComponent(email)}`;
      while ((await apiOf(region).request("GET", path)).status !== 200) {
        if (Date.now() > visibleBy) throw new Error(`the subscriber never reached ${region}`);
        await sleep(100);
      }
    }
    const { id } = await shared.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Shared",
      html: "<p>Hello</p>",
    });
    await shared.expect(202, "POST", `/v1/campaigns/${id}/send`);
    await waitForCampaign(shared, id, 30_000);
    const mails = (await Promise.all(runtime.info.regions.map((r) => sesStore(r.sesUrl)))).flat();
    const html = mails.find((m) => m.destination.to.includes(email))?.body.html ?? "";
    const link = /href="([^"]*\/u\/[^"]+)"/.exec(html)?.[1] ?? "";
    expect(link.startsWith(`${runtime.info.sharedApiUrl}/u/`), link).toBe(true);

    await control("POST", { target: "region", region: HOME, mode: "down" });
    const downAt = Date.now();
    const listed = await shared.request("GET", `/v1/lists/${listId}`);
    const failoverMs = Date.now() - downAt;
    expect([listed.status, listed.headers.get("x-steadfast-region")]).toEqual([200, DOWN]);
    const unsubscribed = await fetch(link, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect([unsubscribed.status, unsubscribed.headers.get("x-steadfast-region")]).toEqual([200, DOWN]);
    console.info(`shared hostname: first answer ${failoverMs} ms after the primary region went down`);

    await control("DELETE");
    // Back: the primary answers again once its health check passes, and has the unsubscribe.
    await sharedRoutesTo(HOME);
    // The unsubscribe written in the other region while this one was down replicates here.
    const replicatedBy = Date.now() + 10_000;
    let status = "";
    while (status !== "unsubscribed" && Date.now() < replicatedBy) {
      const subscriber = await apiOf(HOME).request<{ status: string }>(
        "GET",
        `/v1/lists/${listId}/subscribers/${encodeURIComponent(email)}`,
      );
      status = subscriber.body.status;
      if (status !== "unsubscribed") await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe("unsubscribed");
  });
});
