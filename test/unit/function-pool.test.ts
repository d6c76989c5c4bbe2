import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FunctionPool, InvocationError } from "../../local/function-pool.ts";
import { ProcessGroup } from "../../local/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "pool-"));
writeFileSync(
  join(dir, "index.mjs"),
  "export const handler = async (event) => {\n" +
    "  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));\n" +
    "  return { echoed: event };\n" +
    "};\n",
);
const group = new ProcessGroup();
const pool = new FunctionPool(
  {
    name: "echo",
    role: "echo",
    region: "us-east-1",
    modulePath: join(dir, "index.mjs"),
    handler: "handler",
    timeoutSeconds: 1,
    memoryMb: 128,
    environment: { PATH: process.env.PATH ?? "" },
  },
  1,
  group,
  dir,
);

afterAll(async () => {
  await pool.close();
  await group.stopAll();
});

describe("a local function's execution environments", () => {
  it("fail an invocation sent to an environment that is already gone as a crash, not as an uncaught error", async () => {
    expect(await pool.invoke({ n: 1 })).toEqual({ echoed: { n: 1 } });
    // The environment's channel closes before the runtime has noticed it exit.
    const workers = (pool as unknown as { workers: Set<{ child: { disconnect(): void } }> }).workers;
    for (const worker of workers) worker.child.disconnect();
    const failed = await pool.invoke({ n: 2 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(InvocationError);
    expect((failed as InvocationError).kind).toBe("crash");
  });

  it("give the invocation after a timeout a fresh environment, not the one being killed", async () => {
    const late = await pool.invoke({ sleepMs: 5_000 }).catch((error: unknown) => error);
    expect((late as InvocationError).kind).toBe("timeout");
    expect(await pool.invoke({ n: 3 })).toEqual({ echoed: { n: 3 } });
  }, 15_000);

  it("fail the invocation a crash interrupts, and give the next one a fresh environment", async () => {
    expect(await pool.invoke({ n: 4 })).toEqual({ echoed: { n: 4 } });
    const interrupted = pool.invoke({ sleepMs: 800 }).catch((error: unknown) => error);
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.crash()).toBe(1);
    expect(((await interrupted) as InvocationError).kind).toBe("crash");
    expect(await pool.invoke({ n: 5 })).toEqual({ echoed: { n: 5 } });
  }, 15_000);
});
