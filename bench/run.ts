import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { SteadfastClient, waitForCampaign } from "../local/client.ts";
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  localDocumentClient,
  startLocalRuntime,
} from "../local/runtime.ts";

/**
 * `npm run bench`: throughput, quota utilisation, AWS requests and cost per 1,000 recipients, and
 * fan-out time, measured on the local runtime. Prints figures; passes or fails nothing.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const E2E_RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 10_000);
const THROTTLE_RATE = Number(process.env.BENCH_THROTTLE_RATE ?? 50);
const THROTTLE_RECIPIENTS = Number(process.env.BENCH_THROTTLE_RECIPIENTS ?? 1_500);
const FANOUT_RECIPIENTS = Number(process.env.BENCH_FANOUT_RECIPIENTS ?? 100_000);

// List prices, us-east-1: DynamoDB on-demand (per million request units), SQS standard (per million
// requests), Lambda arm64 (per million requests and per GB-second), SES (per 1,000 emails).
const PRICE = {
  wru: 0.625,
  rru: 0.125,
  sqs: 0.4,
  lambdaRequest: 0.2,
  lambdaGbSecond: 0.0000133334,
  ses1000: 0.1,
};

type Stats = {
  requests: Record<string, Record<string, Record<string, number>>>;
  sesAccepted: Record<string, number>;
  dynamoWriteUnits: Record<string, number>;
};

const rows: [string, string][] = [];
const report = (name: string, value: string) => {
  rows.push([name, value]);
  process.stdout.write(`  ${name}: ${value}\n`);
};

async function withRuntime<T>(
  options: LocalRuntimeOptions,
  fn: (rt: LocalRuntime) => Promise<T>,
): Promise<T> {
  const runtime = await startLocalRuntime({ writeInfo: false, ...options });
  try {
    return await fn(runtime);
  } finally {
    await runtime.stop();
  }
}

async function stats(runtime: LocalRuntime): Promise<Stats> {
  return (await (await fetch(`${runtime.info.controlUrl}/stats`)).json()) as Stats;
}

function total(stats: Stats, service: string, operations?: readonly string[]): number {
  let sum = 0;
  for (const [operation, byRegion] of Object.entries(stats.requests[service] ?? {})) {
    if (operations && !operations.includes(operation)) continue;
    for (const n of Object.values(byRegion)) sum += n;
  }
  return sum;
}

/** Writes `n` subscribers straight into the audience table (setup, not what is measured). */
async function seedList(
  runtime: LocalRuntime,
  api: SteadfastClient,
  n: number,
  tag: string,
): Promise<string> {
  const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: tag });
  const db = localDocumentClient(runtime);
  const now = new Date().toISOString();
  const batches: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += 25) {
    const items = Array.from({ length: Math.min(25, n - i) }, (_, j) => ({
      PutRequest: {
        Item: {
          pk: `LIST#${list.id}`,
          sk: `SUB#${tag}-${i + j}@bench.example.net`,
          type: "subscriber",
          email: `${tag}-${i + j}@bench.example.net`,
          attributes: { firstName: `Reader ${i + j}` },
          status: "subscribed",
          createdAt: now,
          updatedAt: now,
        },
      },
    }));
    batches.push(db.send(new BatchWriteCommand({ RequestItems: { "steadfast-audience": items } })));
    if (batches.length >= 16) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
  return list.id;
}

async function createCampaign(api: SteadfastClient, listId: string): Promise<string> {
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject: "Benchmark for {{attributes.firstName}}",
    html: "<p>Hello {{attributes.firstName}}, this is a benchmark email.</p>",
  });
  return campaign.id;
}

async function endToEnd(): Promise<void> {
  process.stdout.write(`\nEnd to end: ${E2E_RECIPIENTS} recipients, SES rate cap 200/s per region\n`);
  await withRuntime({ sendRate: 200 }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, E2E_RECIPIENTS, "e2e");
    const id = await createCampaign(api, listId);
    const before = await stats(runtime);
    const invocationsBefore = invocations(runtime);
    const started = Date.now();
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    await waitForCampaign(api, id, 30 * 60_000);
    const seconds = (Date.now() - started) / 1000;
    const after = await stats(runtime);
    report(
      "end-to-end throughput",
      `${(E2E_RECIPIENTS / seconds).toFixed(1)} emails/s (${seconds.toFixed(1)} s)`,
    );

    const per1000 = (n: number) => (n / E2E_RECIPIENTS) * 1000;
    const diff = (service: string, ops?: readonly string[]) =>
      total(after, service, ops) - total(before, service, ops);
    const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    const writeUnits = sum(after.dynamoWriteUnits) - sum(before.dynamoWriteUnits);
    const reads = diff("dynamodb", ["GetItem", "Query", "BatchGetItem", "Scan"]);
    const sqsWork = diff("sqs", [
      "SendMessage",
      "SendMessageBatch",
      "DeleteMessage",
      "DeleteMessageBatch",
      "ChangeMessageVisibility",
    ]);
    const sqsReceives = diff("sqs", ["ReceiveMessage"]);
    const ses = diff("ses", ["SendEmail"]);
    const calls = invocations(runtime);
    const lambda = calls.count - invocationsBefore.count;
    const gbSeconds = calls.gbSeconds - invocationsBefore.gbSeconds;
    report(
      "DynamoDB write units / recipient",
      `${(writeUnits / E2E_RECIPIENTS).toFixed(3)} (items < 1 KB: 1 WRU per item written)`,
    );
    report("DynamoDB read requests / 1,000 recipients", per1000(reads).toFixed(1));
    report("SQS requests / recipient: sends, deletes, visibility", (sqsWork / E2E_RECIPIENTS).toFixed(4));
    report(
      "SQS ReceiveMessage / recipient (Lambda polling, incl. idle long polls)",
      (sqsReceives / E2E_RECIPIENTS).toFixed(4),
    );
    report("Lambda invocations / recipient (fanout + sender)", (lambda / E2E_RECIPIENTS).toFixed(4));
    report("SES SendEmail calls / 1,000 recipients", per1000(ses).toFixed(0));
    const cost =
      (per1000(writeUnits) / 1e6) * PRICE.wru +
      (per1000(reads) / 1e6) * PRICE.rru * 2 + // queries read several items: counted as 2 RRU each
      (per1000(sqsWork + sqsReceives) / 1e6) * PRICE.sqs +
      (per1000(lambda) / 1e6) * PRICE.lambdaRequest +
      (gbSeconds / E2E_RECIPIENTS) * 1000 * PRICE.lambdaGbSecond;
    report(
      "AWS cost / 1,000 emails besides SES",
      `$${cost.toFixed(5)} (SES itself: $${PRICE.ses1000.toFixed(2)}); Lambda GB-s measured on this machine`,
    );
  });
}

/**
 * Invocations of the functions that move a campaign (fanout, sender), and their GB-seconds. The api
 * is left out (this benchmark polls it every 250 ms, which is its own doing), and so is the
 * scheduler (one tick a minute whatever the traffic).
 */
function invocations(runtime: LocalRuntime): { count: number; gbSeconds: number } {
  let count = 0;
  let gbSeconds = 0;
  for (const region of runtime.regions) {
    for (const pool of region.pools.values()) {
      if (pool.spec.role !== "fanout" && pool.spec.role !== "sender") continue;
      count += pool.invocations;
      gbSeconds += (pool.busyMs / 1000) * (pool.spec.memoryMb / 1024);
    }
  }
  return { count, gbSeconds };
}

async function quota(known: boolean): Promise<void> {
  const label = known ? "rate known (GetAccount MaxSendRate = N)" : "rate revealed only by 429s";
  process.stdout.write(`\nQuota utilisation, home region throttled at N = ${THROTTLE_RATE}/s, ${label}\n`);
  await withRuntime({ sendRate: 200, sesMaxSendRate: known ? THROTTLE_RATE : 200 }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, THROTTLE_RECIPIENTS, known ? "known" : "unknown");
    const id = await createCampaign(api, listId);
    await fetch(`${runtime.info.controlUrl}/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        target: "ses",
        region: "us-east-1",
        mode: "throttle",
        ratePerSecond: THROTTLE_RATE,
      }),
    });
    const before = await stats(runtime);
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    // Measure from the first accepted send to the last.
    let first = 0;
    await waitForCampaign(api, id, 30 * 60_000, (c) => {
      if (!first && (c.counts.sent ?? 0) > 0) first = Date.now();
    });
    const seconds = (Date.now() - first) / 1000;
    const after = await stats(runtime);
    const calls =
      (after.requests.ses?.SendEmail?.["us-east-1"] ?? 0) -
      (before.requests.ses?.SendEmail?.["us-east-1"] ?? 0);
    const accepted = (after.sesAccepted["us-east-1"] ?? 0) - (before.sesAccepted["us-east-1"] ?? 0);
    const rate = accepted / seconds;
    report(
      `utilisation (${known ? "known" : "429s only"})`,
      `${(rate / THROTTLE_RATE).toFixed(2)} (${rate.toFixed(1)}/s of ${THROTTLE_RATE}/s)`,
    );
    report(
      `throttled SES calls (${known ? "known" : "429s only"})`,
      `${(((calls - accepted) / calls) * 100).toFixed(2)} % of ${calls}`,
    );
  });
}

async function fanout(): Promise<void> {
  process.stdout.write(
    `\nFan-out: time to queue ${FANOUT_RECIPIENTS} recipients (campaign paused so senders hold)\n`,
  );
  await withRuntime({ sendRate: 200 }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const seeded = Date.now();
    const listId = await seedList(runtime, api, FANOUT_RECIPIENTS, "fan");
    process.stdout.write(`  (seeded the list in ${((Date.now() - seeded) / 1000).toFixed(1)} s)\n`);
    const id = await createCampaign(api, listId);
    const started = Date.now();
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    await api.expect(200, "POST", `/v1/campaigns/${id}/pause`, { reason: "benchmark" });
    for (;;) {
      const c = await api.expect<{ counts: { total: number } }>(200, "GET", `/v1/campaigns/${id}`);
      if (c.counts.total >= FANOUT_RECIPIENTS) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (Date.now() - started) / 1000;
    report(
      "time to queue (ledger rows + send messages)",
      `${seconds.toFixed(1)} s (${(FANOUT_RECIPIENTS / seconds).toFixed(0)} recipients/s)`,
    );
    await api.expect(200, "POST", `/v1/campaigns/${id}/cancel`);
  });
}

const only = process.argv[2];
if (!only || only === "e2e") await endToEnd();
if (!only || only === "quota") {
  await quota(true);
  await quota(false);
}
if (!only || only === "fanout") await fanout();

process.stdout.write("\n| measure | figure |\n|---|---|\n");
for (const [name, value] of rows) process.stdout.write(`| ${name} | ${value} |\n`);
