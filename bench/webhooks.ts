import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SteadfastClient } from "../local/client.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import {
  createCampaign,
  report,
  reportCpu,
  results,
  round,
  seedList,
  until,
  withRuntime,
} from "./harness.ts";

interface ReceiverReport {
  distinct: number;
  deliveries: number;
  lags: { type: string; ms: number }[];
}

/** Starts the receiver in a process of its own; its port, a way to read what it saw, and a stop. */
async function startReceiver() {
  const child = fork(fileURLToPath(new URL("./webhook-receiver.ts", import.meta.url)), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve(m.port));
    child.once("exit", (code) => reject(new Error(`webhook receiver exited (${code})`)));
  });
  const read = () =>
    new Promise<ReceiverReport>((resolve) => {
      child.once("message", (m: ReceiverReport) => resolve(m));
      child.send({ type: "report" });
    });
  const stop = () => {
    if (child.connected) child.disconnect();
  };
  return { port, read, stop };
}

/**
 * Webhook lag during a campaign: a receiver on this machine subscribed to `recipient.sent` and
 * `recipient.delivered`; for every event, the time from its fact (`createdAt`) to its arrival. The
 * campaign sends at `sendRate` per region, so the webhooks work beside a full sending load.
 */
export async function webhookLag(recipients: number, sendRate: number): Promise<void> {
  process.stdout.write(
    `\nWebhook lag: ${recipients} recipients at ${sendRate}/s per region, sent + delivered events\n`,
  );
  await withRuntime({ sendRate }, async (runtime) => {
    const api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
    const receiver = await startReceiver();
    try {
      await api.expect(201, "POST", "/v1/webhooks", {
        url: `http://127.0.0.1:${receiver.port}/hook`,
        events: ["recipient.sent", "recipient.delivered"],
        secret: "bench-secret-0123456789",
      });
      const listId = await seedList(runtime, api, recipients, "hooks");
      const id = await createCampaign(api, listId);
      const cpu = startCpuProfile();
      const started = Date.now();
      await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
      await until(
        "every webhook event",
        async () => (await receiver.read()).distinct >= 2 * recipients,
        15 * 60_000,
        1_000,
      );
      const seconds = (Date.now() - started) / 1000;
      reportCpu("sending with webhooks", cpu.stop());
      const { lags, deliveries } = await receiver.read();
      const percentiles = (ms: number[]) => {
        const sorted = [...ms].sort((a, b) => a - b);
        const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
        return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0, count: sorted.length };
      };
      const all = percentiles(lags.map((l) => l.ms));
      report(
        "webhook lag, fact to receiver (p50 / p99 / max)",
        `${all.p50} / ${all.p99} / ${all.max} ms over ${all.count} events (${deliveries} deliveries) in ${seconds.toFixed(1)} s`,
      );
      for (const type of ["recipient.sent", "recipient.delivered"]) {
        const one = percentiles(lags.filter((l) => l.type === type).map((l) => l.ms));
        report(`  ${type} (p50 / p99 / max)`, `${one.p50} / ${one.p99} / ${one.max} ms over ${one.count}`);
      }
      results.webhookLagP50Ms = all.p50;
      results.webhookLagP99Ms = all.p99;
      results.webhookEvents = round(all.count, 0);
    } finally {
      receiver.stop();
    }
  });
}
