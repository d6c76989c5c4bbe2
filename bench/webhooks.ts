import http from "node:http";
import { SteadfastClient } from "../local/client.ts";
import { freePort } from "../local/processes.ts";
import { createCampaign, report, results, round, seedList, until, withRuntime } from "./harness.ts";

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
    const lags: number[] = [];
    const ids = new Set<string>();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string; createdAt: string };
        if (!ids.has(event.id)) lags.push(Date.now() - Date.parse(event.createdAt));
        ids.add(event.id);
        res.writeHead(204).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
    try {
      await api.expect(201, "POST", "/v1/webhooks", {
        url: `http://127.0.0.1:${port}/hook`,
        events: ["recipient.sent", "recipient.delivered"],
        secret: "bench-secret-0123456789",
      });
      const listId = await seedList(runtime, api, recipients, "hooks");
      const id = await createCampaign(api, listId);
      const started = Date.now();
      await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
      await until("every webhook event", () => ids.size >= 2 * recipients);
      const sorted = [...lags].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      report(
        "webhook lag, fact to receiver (p50 / p99 / max)",
        `${at(0.5)} / ${at(0.99)} / ${sorted.at(-1) ?? 0} ms over ${sorted.length} events in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      results.webhookLagP50Ms = at(0.5);
      results.webhookLagP99Ms = at(0.99);
      results.webhookEvents = round(sorted.length, 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
}
