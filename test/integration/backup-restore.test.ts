import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { backupTables, restoreTables } from "../../local/backup.ts";
import { controlFaults, sesStore, SteadfastClient, waitForCampaign } from "../../local/client.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

/**
 * A backup taken mid-campaign, restored into a fresh runtime (the first one gone, as a lost
 * deployment is): the campaign finishes there, nobody lost, nobody mailed twice across the two.
 */
const running: LocalRuntime[] = [];
const start = async () => {
  const runtime = await startLocalRuntime({
    writeInfo: false,
    scheduleIntervalMs: 1000,
    logDir: join(process.cwd(), ".steadfast", "logs", `backup-${process.pid}-${running.length}`),
  });
  running.push(runtime);
  return runtime;
};
const targetOf = (runtime: LocalRuntime) => ({
  dynamodbUrl: runtime.info.dynamodbUrl,
  region: runtime.info.regions[0]?.name ?? "us-east-1",
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function mailed(runtime: LocalRuntime, emails: ReadonlySet<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const region of runtime.info.regions)
    for (const email of await sesStore(region.sesUrl))
      for (const to of email.destination.to) if (emails.has(to)) counts.set(to, (counts.get(to) ?? 0) + 1);
  return counts;
}

afterAll(async () => {
  for (const runtime of running) await runtime.stop();
});

describe("backup and restore", () => {
  it("restores a campaign paused mid-flight into a fresh runtime, which finishes it: 0 lost, 0 duplicates", async () => {
    const first = await start();
    const api = new SteadfastClient(first.info.apiUrl, first.info.apiKey);
    for (const region of first.info.regions)
      await controlFaults(first.info.controlUrl, "POST", {
        target: "ses",
        region: region.name,
        mode: "throttle",
        ratePerSecond: 30,
      });
    const emails = Array.from({ length: 300 }, (_, i) => `restore-${i}@example.net`);
    const { id: listId } = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Restored" });
    // In pages of 100: a PUT of 300 to a cold API worker on a busy 2-core machine can outlast the
    // function's 10 s timeout on DynamoDB Local, which is not what this test is about.
    for (let i = 0; i < emails.length; i += 100)
      await api.expect(200, "PUT", `/v1/lists/${listId}/subscribers`, {
        subscribers: emails.slice(i, i + 100).map((email) => ({ email })),
      });
    const { id } = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
      listId,
      subject: "Restored",
      html: "<p>{{email}}</p>",
    });
    await api.expect(202, "POST", `/v1/campaigns/${id}/send`);
    for (;;) {
      const view = await api.expect<{ counts: { sent: number } }>(200, "GET", `/v1/campaigns/${id}`);
      if (view.counts.sent >= 60) break;
      await sleep(200);
    }
    // As the runbook says: stop the writes first. Then wait until the senders have let go.
    await api.expect(200, "POST", `/v1/campaigns/${id}/pause`, { reason: "backup" });
    await sleep(5_000);
    const file = join(mkdtempSync(join(tmpdir(), "steadfast-backup-")), "tables.jsonl");
    const backedUp = await backupTables(targetOf(first), file);
    expect(Object.keys(backedUp)).toEqual(expect.arrayContaining(["steadfast-audience", "steadfast-ledger"]));
    console.info(`backup: ${JSON.stringify(backedUp)}`);
    const before = await mailed(first, new Set(emails));
    await first.stop();
    running.splice(running.indexOf(first), 1);
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThan(300);

    const second = await start();
    const restored = await restoreTables(targetOf(second), file);
    expect(restored).toEqual(backedUp);
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(
      Object.values(backedUp).reduce((a, b) => a + b, 0),
    );
    const api2 = new SteadfastClient(second.info.apiUrl, second.info.apiKey);
    const paused = await api2.expect<{ status: string; counts: { sent: number } }>(
      200,
      "GET",
      `/v1/campaigns/${id}`,
    );
    expect([paused.status, paused.counts.sent]).toEqual(["paused", before.size]);
    await api2.expect(200, "POST", `/v1/campaigns/${id}/resume`);
    const done = await waitForCampaign(api2, id, 60_000);
    expect(done.counts).toMatchObject({ total: 300, sent: 300 });
    const after = await mailed(second, new Set(emails));
    const duplicates = emails.filter((e) => (before.get(e) ?? 0) + (after.get(e) ?? 0) > 1);
    const missing = emails.filter((e) => (before.get(e) ?? 0) + (after.get(e) ?? 0) === 0);
    console.info(`restore: ${before.size} sent before the backup, ${after.size} after the restore`);
    expect([missing.length, duplicates.length]).toEqual([0, 0]);
  });
});
