import { mkdtempSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FunctionPool } from "../../local/function-pool.ts";
import { serveHttpApi } from "../../local/http-api.ts";
import { freePort, ProcessGroup } from "../../local/processes.ts";

const dir = mkdtempSync(join(tmpdir(), "http-api-"));
writeFileSync(
  join(dir, "index.mjs"),
  "export const handler = async (event) => {\n" +
    "  const sleepMs = Number(event.queryStringParameters?.sleepMs ?? 0);\n" +
    "  await new Promise((r) => setTimeout(r, sleepMs));\n" +
    "  return { statusCode: 200, body: JSON.stringify({ slept: sleepMs }) };\n" +
    "};\n",
);
const group = new ProcessGroup();
const pool = (timeoutSeconds: number) =>
  new FunctionPool(
    {
      name: "api",
      role: "api",
      region: "us-east-1",
      modulePath: join(dir, "index.mjs"),
      handler: "handler",
      timeoutSeconds,
      memoryMb: 128,
      environment: { PATH: process.env.PATH ?? "" },
    },
    1,
    group,
    dir,
  );
const pools: FunctionPool[] = [];
const servers: Server[] = [];

/** An HTTP API in front of a function with `timeoutSeconds`, waiting `integrationMs` for it. */
async function api(timeoutSeconds: number, integrationMs: number): Promise<string> {
  const fn = pool(timeoutSeconds);
  pools.push(fn);
  const port = await freePort();
  servers.push(await serveHttpApi(fn, port, "test", integrationMs));
  return `http://127.0.0.1:${port}`;
}

let quickFunction: string;
let slowFunction: string;
beforeAll(async () => {
  quickFunction = await api(1, 30_000);
  slowFunction = await api(10, 1_500);
});

afterAll(async () => {
  for (const server of servers) server.close();
  for (const fn of pools) await fn.close();
  await group.stopAll();
});

describe("the local HTTP API in front of a function", () => {
  it("answers 500 for a function that timed out, as an HTTP API does, and serves the next request", async () => {
    const late = await fetch(`${quickFunction}/?sleepMs=3000`);
    expect([late.status, await late.json()]).toEqual([500, { message: "Internal Server Error" }]);
    const next = await fetch(`${quickFunction}/?sleepMs=0`);
    expect([next.status, await next.json()]).toEqual([200, { slept: 0 }]);
  }, 15_000);

  it("answers 503 once its integration timeout passes, while the function runs on", async () => {
    const started = Date.now();
    const late = await fetch(`${slowFunction}/?sleepMs=4000`);
    expect([late.status, await late.json()]).toEqual([503, { message: "Service Unavailable" }]);
    expect(Date.now() - started).toBeLessThan(3_500);
  }, 15_000);
});
