import { writeFileSync } from "node:fs";
import { SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { campaignKey } from "../lambdas/adapters/dynamo/keys.ts";
import { mapLimit } from "../lambdas/shared/concurrency.ts";
import { LOCAL_CREDENTIALS } from "../local/local-account.ts";
import { SteadfastClient } from "../local/client.ts";
import {
  createCampaign,
  report,
  reportCpu,
  results,
  round,
  rows,
  seedList,
  sesAccepted,
  stats,
  type Stats,
  until,
  withRuntime,
} from "./harness.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import { webhookLag } from "./webhooks.ts";
import { quotaUtilisation } from "./quota.ts";
import { type LocalRuntime, localDocumentClient } from "../local/runtime.ts";

/**
 * `npm run bench`: throughput (capped, uncapped, and a raw SES loop beside it), quota utilisation,
 * AWS requests and cost per 1,000 recipients, fan-out time by list size and start-up time, measured
 * on the local runtime. Prints figures and writes them to bench/results.json; passes or fails
 * nothing. `BENCH_QUICK=1` measures smaller lists; `npm run bench -- <e2e|uncapped|quota|spread|fanout|segments|webhooks>`
 * one part.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** `BENCH_QUICK=1`: the same measures on smaller lists, for a look in a few minutes. */
const QUICK = process.env.BENCH_QUICK === "1";
const E2E_RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? (QUICK ? 2_000 : 10_000));
const UNCAPPED_RECIPIENTS = QUICK ? 2_000 : 10_000;
const RAW_SES_CALLS = QUICK ? 2_000 : 10_000;
const SPREAD_CAP = 25;
const SPREAD_RECIPIENTS = QUICK ? 500 : 1_500;
const FANOUT_CURVE = QUICK ? [2_000, 10_000] : [10_000, 50_000, 100_000, 200_000];
const PREVIEW_RECIPIENTS = QUICK ? 10_000 : 100_000;
/** The cap the end-to-end rate is held against, per region; lifted to UNCAPPED_RATE for the ratio to raw SES. */
const CAP = 200;
const UNCAPPED_RATE = 2_000;
const RESULTS_PATH = new URL("./results.json", import.meta.url);

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

/**
 * Sends the campaign and returns the seconds until SES accepted `recipients` more emails: the
 * throughput. Polling the campaign (which counts its ledger) every 250 ms would load DynamoDB Local
 * with reads the pipeline does not do; the bench reads the emulators' counter instead, then waits
 * for the campaign to be marked sent.
 */
async function sendAndTime(
  runtime: LocalRuntime,
  api: SteadfastClient,
  id: string,
  recipients: number,
  measure: string,
) {
  const before = sesAccepted(runtime);
  const started = Date.now();
  const cpu = startCpuProfile();
  await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
  await until("all accepted by SES", () => sesAccepted(runtime) - before >= recipients);
  const seconds = (Date.now() - started) / 1000;
  reportCpu(measure, cpu.stop());
  await until(
    "campaign sent",
    async () => (await api.expect<{ status: string }>(200, "GET", `/v1/campaigns/${id}`)).status === "sent",
    5 * 60_000,
    1000,
  );
  return seconds;
}

/**
 * Seconds until the campaign's feedback counters show `sent` and `delivered` for every recipient,
 * or, should some never come (an SES call whose connection reset after SES accepted it: its events
 * name a message the ledger does not hold), until they last moved before 20 s without change.
 * Returns the time and what was counted, so that a shortfall is reported rather than waited on.
 */
async function feedbackDone(api: SteadfastClient, id: string, recipients: number, since: number) {
  let last = { sent: -1, delivered: -1 };
  let movedAt = Date.now();
  for (;;) {
    const c = await api.expect<{ feedback?: { sent: number; delivered: number } }>(
      200,
      "GET",
      `/v1/campaigns/${id}`,
    );
    const now = { sent: c.feedback?.sent ?? 0, delivered: c.feedback?.delivered ?? 0 };
    if (now.sent !== last.sent || now.delivered !== last.delivered) movedAt = Date.now();
    last = now;
    if (now.sent >= recipients && now.delivered >= recipients) break;
    if (Date.now() - movedAt > 20_000) {
      process.stdout.write(
        `  (feedback stopped short: ${now.sent} Send and ${now.delivered} Delivery counted of ${recipients})\n`,
      );
      break;
    }
    if (Date.now() - since > 10 * 60_000) throw new Error("feedback counted: not after 10 minutes");
    await new Promise((r) => setTimeout(r, 500));
  }
  return { seconds: (movedAt - since) / 1000, ...last };
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
async function endToEnd(): Promise<void> {
  process.stdout.write(`\nEnd to end: ${E2E_RECIPIENTS} recipients, SES rate cap ${CAP}/s per region\n`);
  await withRuntime({ sendRate: CAP }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, E2E_RECIPIENTS, "e2e");
    const id = await createCampaign(api, listId);
    const before = await stats(runtime);
    const invocationsBefore = invocations(runtime);
    const seconds = await sendAndTime(runtime, api, id, E2E_RECIPIENTS, "sending, capped");
    // Real SES load on the feedback path: a Send and a Delivery event for every email.
    const lag = (await feedbackDone(api, id, E2E_RECIPIENTS, Date.now())).seconds.toFixed(1);
    report("feedback counted (Send + Delivery of every email), after the last send", `${lag} s later`);
    const after = await stats(runtime);
    report(
      "end-to-end throughput",
      `${(E2E_RECIPIENTS / seconds).toFixed(1)} emails/s (${seconds.toFixed(1)} s)`,
    );
    results.e2eRatePerSec = round(E2E_RECIPIENTS / seconds, 1);
    results.e2eRateOverCap = round(E2E_RECIPIENTS / seconds / CAP);

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
    results.wcuPerRecipientWithFeedback = round(writeUnits / E2E_RECIPIENTS);
    report(
      "DynamoDB write units / recipient, with its feedback",
      `${(writeUnits / E2E_RECIPIENTS).toFixed(3)} (items < 1 KB: 1 WRU per item written)`,
    );
    report("DynamoDB read requests / 1,000 recipients", per1000(reads).toFixed(1));
    report("SQS requests / recipient: sends, deletes, visibility", (sqsWork / E2E_RECIPIENTS).toFixed(4));
    report(
      "SQS ReceiveMessage / recipient (Lambda polling, incl. idle long polls)",
      (sqsReceives / E2E_RECIPIENTS).toFixed(4),
    );
    report("Lambda invocations / recipient (fanout, sender, feedback)", (lambda / E2E_RECIPIENTS).toFixed(4));
    report("SES SendEmail calls / 1,000 recipients", per1000(ses).toFixed(0));
    const cost =
      (per1000(writeUnits) / 1e6) * PRICE.wru +
      (per1000(reads) / 1e6) * PRICE.rru * 2 + // queries read several items: counted as 2 RRU each
      (per1000(sqsWork + sqsReceives) / 1e6) * PRICE.sqs +
      (per1000(lambda) / 1e6) * PRICE.lambdaRequest +
      (gbSeconds / E2E_RECIPIENTS) * 1000 * PRICE.lambdaGbSecond;
    results.costPer1000Usd = round(cost, 5);
    report(
      "AWS cost / 1,000 emails besides SES, feedback included",
      `$${cost.toFixed(5)} (SES itself: $${PRICE.ses1000.toFixed(2)}); Lambda GB-s measured on this machine`,
    );
  });
}

/**
 * The end-to-end rate with the cap lifted, beside a plain SendEmail loop (concurrency 16) against the
 * same SES emulator in the same runtime: how much of what SES can take the pipeline uses.
 */
async function uncapped(): Promise<void> {
  process.stdout.write(
    `\nUncapped: ${UNCAPPED_RECIPIENTS} recipients at a cap of ${UNCAPPED_RATE}/s, and raw SES\n`,
  );
  // SES events only for the mailbox simulator's addresses: the pipeline's own rate and write units,
  // then its feedback path on its own, from a burst of the events SES would have published.
  await withRuntime({ sendRate: UNCAPPED_RATE, sesEvents: "simulator" }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, UNCAPPED_RECIPIENTS, "uncapped");
    const id = await createCampaign(api, listId);
    const before = await stats(runtime);
    const rate =
      UNCAPPED_RECIPIENTS / (await sendAndTime(runtime, api, id, UNCAPPED_RECIPIENTS, "sending, cap lifted"));
    const afterSending = await stats(runtime);
    const writeUnits = (s: Stats) => Object.values(s.dynamoWriteUnits).reduce((a, b) => a + b, 0);
    results.wcuPerRecipient = round((writeUnits(afterSending) - writeUnits(before)) / UNCAPPED_RECIPIENTS);
    report("DynamoDB write units / recipient, sending only", String(results.wcuPerRecipient));
    report("end-to-end throughput, cap lifted", `${rate.toFixed(1)} emails/s`);
    results.uncappedRatePerSec = round(rate, 1);

    const started = Date.now();
    const cpu = startCpuProfile();
    const replay = await fetch(`${runtime.info.controlUrl}/feedback/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ types: ["Send", "Delivery"] }),
    });
    const { published } = (await replay.json()) as { published: number };
    const { seconds } = await feedbackDone(api, id, UNCAPPED_RECIPIENTS, started);
    reportCpu("processing a feedback burst", cpu.stop());
    results.feedbackEventsPerSec = round(published / seconds, 1);
    report(
      "feedback events processed / s (a burst of Send + Delivery for every email)",
      `${(published / seconds).toFixed(1)} (${published} in ${seconds.toFixed(1)} s)`,
    );

    const raw = await rawSesRate(runtime);
    report("raw SES emulator (SendEmail loop, concurrency 16)", `${raw.toFixed(1)} emails/s`);
    report("end to end over raw SES", (rate / raw).toFixed(3));
    results.rawSesRatePerSec = round(raw, 1);
    results.e2eOverRaw = round(rate / raw);
  });
}

/** Emails per second a plain SendEmail loop gets from the home region's SES emulator. */
async function rawSesRate(runtime: LocalRuntime): Promise<number> {
  const home = runtime.info.regions[0];
  if (!home) throw new Error("no region");
  const ses = new SESv2Client({ region: home.name, endpoint: home.sesUrl, credentials: LOCAL_CREDENTIALS });
  const started = Date.now();
  await mapLimit(
    Array.from({ length: RAW_SES_CALLS }, (_, i) => i),
    16,
    (i) =>
      ses.send(
        new SendEmailCommand({
          FromEmailAddress: "news@example.com",
          Destination: { ToAddresses: [`raw-${i}@bench.example.net`] },
          Content: {
            Simple: {
              Subject: { Data: `Benchmark ${i}` },
              Body: { Html: { Data: "<p>Hello, this is a benchmark email.</p>" } },
            },
          },
        }),
      ),
  );
  return RAW_SES_CALLS / ((Date.now() - started) / 1000);
}

/**
 * Invocations of the functions that move a campaign and record its feedback, and their GB-seconds. The api
 * is left out (this benchmark polls it every 250 ms, which is its own doing), and so is the
 * scheduler (one tick a minute whatever the traffic).
 */
function invocations(runtime: LocalRuntime): { count: number; gbSeconds: number } {
  const roles = ["fanout", "sender", "feedback"];
  let count = 0;
  let gbSeconds = 0;
  for (const region of runtime.regions) {
    for (const pool of region.pools.values()) {
      if (!roles.includes(pool.spec.role)) continue;
      count += pool.invocations;
      gbSeconds += (pool.busyMs / 1000) * (pool.spec.memoryMb / 1024);
    }
  }
  return { count, gbSeconds };
}

/**
 * `sendMode: "spread"` with each region capped at SPREAD_CAP: the campaign's rate over the sum of
 * the regions' caps, from the first email SES accepted to the last (in any region).
 */
async function spread(): Promise<void> {
  process.stdout.write(`\nSpread: ${SPREAD_RECIPIENTS} recipients, each region capped at ${SPREAD_CAP}/s\n`);
  await withRuntime({ sendRate: SPREAD_CAP, sendMode: "spread", sesEvents: "simulator" }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, SPREAD_RECIPIENTS, "spread");
    const id = await createCampaign(api, listId);
    const base = sesAccepted(runtime);
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    await until("first send", () => sesAccepted(runtime) > base, 5 * 60_000, 10);
    const first = Date.now();
    const cpu = startCpuProfile();
    await until("every send", () => sesAccepted(runtime) - base >= SPREAD_RECIPIENTS, 30 * 60_000, 10);
    const rate = (SPREAD_RECIPIENTS - 1) / ((Date.now() - first) / 1000);
    reportCpu("sending, spread", cpu.stop());
    const sum = SPREAD_CAP * runtime.regions.length;
    const shares = runtime.regions.map((r) => `${r.name} ${r.proxies.ses.stats.sesAccepted}`).join(", ");
    report(
      "spread: campaign rate over the sum of the regions' caps",
      `${(rate / sum).toFixed(2)} (${rate.toFixed(1)}/s of ${sum}/s; ${shares})`,
    );
    results.spreadRateOverSumOfCaps = round(rate / sum);
  });
}

/** Time to queue each list size of the curve: the ledger rows and send messages of every recipient. */
async function fanout(): Promise<void> {
  const curve: { recipients: number; seconds: number }[] = [];
  for (const recipients of FANOUT_CURVE) {
    process.stdout.write(
      `\nFan-out: time to queue ${recipients} recipients (campaign paused so senders hold)\n`,
    );
    await withRuntime({ sendRate: CAP }, async (runtime) => {
      const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
      const seeded = Date.now();
      const listId = await seedList(runtime, api, recipients, "fan");
      process.stdout.write(`  (seeded the list in ${((Date.now() - seeded) / 1000).toFixed(1)} s)\n`);
      const id = await createCampaign(api, listId);
      const started = Date.now();
      const cpu = startCpuProfile();
      await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
      await api.expect(200, "POST", `/v1/campaigns/${id}/pause`, { reason: "benchmark" });
      // The fan-out's own mark on the campaign's control item, read directly: counting the ledger
      // through the API while it is written would slow what is measured.
      const db = localDocumentClient(runtime);
      await until("fan-out done", async () => {
        const out = await db.send(
          new GetCommand({ TableName: "steadfast-audience", Key: campaignKey(id), ConsistentRead: true }),
        );
        return out.Item?.fanoutDone === true;
      });
      const seconds = (Date.now() - started) / 1000;
      reportCpu(`queueing ${recipients}`, cpu.stop());
      curve.push({ recipients, seconds: round(seconds, 1) });
      report(
        `time to queue ${recipients} (ledger rows + send messages)`,
        `${seconds.toFixed(1)} s (${(recipients / seconds).toFixed(0)} recipients/s)`,
      );
      // No cancel: the runtime stops right after, and a cancel would only compete with the writes.
    });
  }
  results.fanoutCurve = curve;
  results.fanout100kSec = curve.find((p) => p.recipients === 100_000)?.seconds ?? null;
  const largest = curve.at(-1);
  if (largest) {
    report(
      "1,000,000 recipients queued, extrapolated linearly from the largest measured",
      `${((largest.seconds / largest.recipients) * 1_000_000).toFixed(0)} s`,
    );
  }
}

/** A saved segment's preview over a list of PREVIEW_RECIPIENTS: the whole list read and evaluated. */
async function segmentPreview(): Promise<void> {
  process.stdout.write(`\nSegment preview: a list of ${PREVIEW_RECIPIENTS}\n`);
  await withRuntime({ sendRate: CAP }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const listId = await seedList(runtime, api, PREVIEW_RECIPIENTS, "seg");
    const rule = {
      all: [
        { attribute: "plan", op: "eq", value: "pro" },
        { attribute: "firstName", op: "contains", value: "7" },
      ],
    };
    const segment = await api.expect<{ id: string }>(201, "POST", "/v1/segments", { name: "bench", rule });
    const expected = Array.from({ length: PREVIEW_RECIPIENTS }, (_, i) => i).filter(
      (i) => i % 4 === 0 && String(i).includes("7"),
    ).length;
    const seconds: number[] = [];
    let count = -1;
    for (let run = 0; run < 3; run++) {
      const started = Date.now();
      ({ count } = await api.expect<{ count: number }>(200, "POST", `/v1/segments/${segment.id}/preview`, {
        listId,
      }));
      seconds.push((Date.now() - started) / 1000);
    }
    const median = [...seconds].sort((a, b) => a - b)[1] ?? Number.NaN;
    report(
      `segment preview over ${PREVIEW_RECIPIENTS} subscribers (median of 3)`,
      `${median.toFixed(2)} s (${seconds.map((x) => x.toFixed(2)).join(", ")}); count ${count}, expected ${expected}`,
    );
    results.segmentPreviewSec = round(median, 2);
  });
}

const only = process.argv[2];
if (!only || only === "e2e") await endToEnd();
if (!only || only === "uncapped") await uncapped();
if (!only || only === "quota") {
  const recipients = Number(process.env.BENCH_THROTTLE_RECIPIENTS ?? (QUICK ? 500 : 1_500));
  const rate = Number(process.env.BENCH_THROTTLE_RATE ?? 50);
  await quotaUtilisation({ rate, recipients, known: true });
  await quotaUtilisation({ rate, recipients, known: false });
  await quotaUtilisation({ rate, recipients, known: true, feedback: false });
}
if (!only || only === "spread") await spread();
if (!only || only === "fanout") await fanout();
if (!only || only === "segments") await segmentPreview();
if (!only || only === "webhooks") await webhookLag(QUICK ? 2_000 : 10_000, CAP);

process.stdout.write("\n| measure | figure |\n|---|---|\n");
for (const [name, value] of rows) process.stdout.write(`| ${name} | ${value} |\n`);
writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`\nFigures for machines: bench/results.json\n`);
