import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { SteadfastClient } from "../local/client.ts";
import { type CpuProfile, describeProfile } from "./cpu-profile.ts";
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  localDocumentClient,
  startLocalRuntime,
} from "../local/runtime.ts";

/** What every benchmark shares: the figures it reports, a runtime per measure, seeding and waiting. */

/** Figures a machine can read (bench/results.json); null where this run did not measure one. */
export const results: Record<
  string,
  number | null | { recipients: number; seconds: number }[] | Record<string, Record<string, number>>
> = {
  e2eRatePerSec: null,
  e2eRateOverCap: null,
  uncappedRatePerSec: null,
  rawSesRatePerSec: null,
  e2eOverRaw: null,
  utilKnown: null,
  throttledKnownPct: null,
  util429: null,
  throttled429Pct: null,
  /** Diagnostic: utilisation with the rate known and SES events off (no feedback load on the CPU). */
  utilKnownNoFeedback: null,
  fanout100kSec: null,
  fanoutCurve: [],
  feedbackEventsPerSec: null,
  wcuPerRecipient: null,
  wcuPerRecipientWithFeedback: null,
  costPer1000Usd: null,
  spreadRateOverSumOfCaps: null,
  startReadySec: null,
  segmentPreviewSec: null,
  webhookLagP50Ms: null,
  webhookLagP99Ms: null,
  webhookEvents: null,
  /** Share of the machine each kind of process used while a figure was measured, by measure. */
  cpuProfiles: {},
};
export const round = (n: number, digits = 3) => Number(n.toFixed(digits));

export type Stats = {
  requests: Record<string, Record<string, Record<string, number>>>;
  sesAccepted: Record<string, number>;
  dynamoWriteUnits: Record<string, number>;
};

export const rows: [string, string][] = [];
export const report = (name: string, value: string) => {
  rows.push([name, value]);
  process.stdout.write(`  ${name}: ${value}\n`);
};

/** Reports which processes were busy while `measure` was timed (bench/cpu-profile.ts). */
export function reportCpu(measure: string, profile: CpuProfile | undefined): void {
  if (!profile) return;
  (results.cpuProfiles as Record<string, Record<string, number>>)[measure] = profile.shares;
  report(`CPU while ${measure}`, describeProfile(profile));
}

export async function withRuntime<T>(
  options: LocalRuntimeOptions,
  fn: (rt: LocalRuntime) => Promise<T>,
): Promise<T> {
  const starting = Date.now();
  // What the runtime itself ran into (a poller's failed call, say): printed after the figures it measured.
  const warnings = new Map<string, number>();
  const runtime = await startLocalRuntime({
    writeInfo: false,
    onWarning: (message) => warnings.set(message, (warnings.get(message) ?? 0) + 1),
    ...options,
  });
  // The first start of the run (cdk.out fresh, emulators cold); later ones are alike.
  results.startReadySec ??= round((Date.now() - starting) / 1000, 1);
  try {
    return await fn(runtime);
  } finally {
    await runtime.stop();
    for (const [message, count] of warnings)
      process.stdout.write(`  runtime warning (${count}×): ${message}\n`);
  }
}

export async function stats(runtime: LocalRuntime): Promise<Stats> {
  return (await (await fetch(`${runtime.info.controlUrl}/stats`)).json()) as Stats;
}

/** Emails the SES emulators accepted so far, read in-process (the runtime runs in this process). */
export function sesAccepted(runtime: LocalRuntime): number {
  return runtime.regions.reduce((sum, r) => sum + r.proxies.ses.stats.sesAccepted, 0);
}

export async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  timeoutMs = 30 * 60_000,
  everyMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function seedList(
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
          attributes: { firstName: `Reader ${i + j}`, plan: (i + j) % 4 === 0 ? "pro" : "free" },
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

export async function createCampaign(api: SteadfastClient, listId: string): Promise<string> {
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId,
    subject: "Benchmark for {{attributes.firstName}}",
    html: "<p>Hello {{attributes.firstName}}, this is a benchmark email.</p>",
  });
  return campaign.id;
}
