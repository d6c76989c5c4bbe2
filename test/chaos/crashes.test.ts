import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Chaos, startChaosRuntime } from "./harness.ts";

/**
 * Crashes, on a runtime of their own (the chaos files run side by side): a sender and a fan-out
 * killed mid-campaign. Each campaign has at least 500 recipients; every recipient must end terminal,
 * recorded once, and delivered once or within the stated in-flight bound.
 */
let chaos: Chaos;
/** On the production timings, a campaign must finish this soon after its last crash or fault. */
const RECOVERY_LIMIT_MS = 150_000;

beforeAll(async () => {
  chaos = await startChaosRuntime();
});

afterEach(async () => {
  await chaos?.heal();
});

afterAll(async () => {
  await chaos?.runtime.stop();
});

const isSent = (c: { status: string }) => c.status === "sent";

describe("chaos: crashes", () => {
  it("f. the sender crashes 3 times: recovered within 150 s, duplicates within the in-flight bound", async () => {
    // 1,000 recipients are 20 send messages, and each crash takes the batches in flight (up to 2
    // invocations × 4 messages) out of sight for the visibility timeout (121 s): enough are left for
    // the next crash to find a sender at work, rather than wait two minutes for a crashed batch.
    const run = await chaos.campaign("f", 1000);
    let killed = 0;
    let lastCrashAt = 0;
    for (let i = 0; i < 3; i++) {
      await chaos.waitFor(run.id, (c) => c.counts.sent >= 60 * (i + 1), RECOVERY_LIMIT_MS);
      killed += await chaos.crash("sender");
      lastCrashAt = Date.now();
    }
    await chaos.waitFor(run.id, isSent, RECOVERY_LIMIT_MS);
    const recovery = (Date.now() - lastCrashAt) / 1000;
    console.info(`scenario f: recovered ${recovery.toFixed(0)} s after the last crash`);
    expect(recovery * 1000).toBeLessThan(RECOVERY_LIMIT_MS);
    // A crash can only duplicate SES calls in flight in the killed invocations: at most
    // 32 recipients handled at once per invocation.
    const bound = killed * 32;
    const { duplicates } = await chaos.verify(run, bound);
    expect(killed).toBeGreaterThan(0);
    console.info(`scenario f: ${killed} invocations killed, ${duplicates} duplicates (bound ${bound})`);
  }, 900_000);

  it("g. the fan-out crashes mid-list: each slice resumes from its checkpoint, skipping nobody", async () => {
    const run = await chaos.campaign("g", 600, false);
    await chaos.api.expect(202, "POST", `/v1/campaigns/${run.id}/send`);
    await chaos.waitFor(run.id, (c) => c.counts.total >= 50, 30_000);
    const killed = await chaos.crash("fanout");
    const mid = await chaos.status(run.id);
    // The slices' workers (and the reader, if it was still cutting) die together.
    expect(killed).toBeGreaterThanOrEqual(1);
    expect(mid?.counts.total).toBeLessThan(600);
    const crashedAt = Date.now();
    await chaos.waitFor(run.id, isSent, RECOVERY_LIMIT_MS);
    const recovery = (Date.now() - crashedAt) / 1000;
    console.info(
      `scenario g: ${killed} fan-out workers killed; finished ${recovery.toFixed(0)} s after the crash`,
    );
    await chaos.verify(run);
  });
});
