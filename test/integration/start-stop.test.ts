import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LocalInfo } from "../../local/runtime-types.ts";

/**
 * `npm start` as a supervisor (docker stop, systemd, a script) drives it: a signal to npm alone, or
 * npm dying outright, must leave none of its processes behind — runtime, DynamoDB Local's JVM,
 * emulators and function workers.
 */
const projectDir = process.cwd();
let started: ChildProcess | undefined;

afterEach(() => {
  // Whatever a failed case left behind goes: the whole process group of that `npm start`.
  if (started?.pid) signalGroup(started.pid, "SIGKILL");
  started = undefined;
});

describe("npm start", () => {
  it("stops every process of it when npm alone gets SIGTERM", async () => {
    const { npm, info } = await startNpm();
    npm.kill("SIGTERM");
    await expectAllGone(npm, info);
  });

  it("stops every process of it when npm is killed outright", async () => {
    const { npm, info } = await startNpm();
    npm.kill("SIGKILL");
    await expectAllGone(npm, info);
  });
});

/** Starts `npm start` in a process group of its own and waits until it is serving. */
async function startNpm(): Promise<{ npm: ChildProcess; info: LocalInfo }> {
  const npm = spawn("npm", ["start"], {
    cwd: projectDir,
    detached: true,
    env: { ...process.env, STEADFAST_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started = npm;
  let output = "";
  npm.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 180_000;
  while (!output.includes("Steadfast is running locally")) {
    if (npm.exitCode !== null || Date.now() > deadline)
      throw new Error(`npm start did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const info = JSON.parse(readFileSync(join(projectDir, ".steadfast", "local.json"), "utf8")) as LocalInfo;
  const names = info.processes.map((p) => p.name);
  expect(names).toEqual(expect.arrayContaining(["runtime", "DynamoDB Local", "fauxqs"]));
  for (const { pid } of info.processes) expect(alive(pid)).toBe(true);
  // A request starts the API's function workers, so that they are among what must stop. The first
  // health check of a cold worker on a busy machine can outlast its 2 s probe limit and answer 503,
  // as Route 53 would see it once; the region must be healthy within a few checks.
  expect(await healthyWithin(info.apiUrl, 30_000)).toBe(200);
  return { npm, info };
}

/** The status of the first 200 from /health within `ms`, or of the last answer when none is. */
async function healthyWithin(apiUrl: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { status } = await fetch(`${apiUrl}/health`);
    if (status === 200 || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function expectAllGone(npm: ChildProcess, info: LocalInfo): Promise<void> {
  const deadline = Date.now() + 15_000;
  const remaining = () => [
    ...info.processes.filter((p) => alive(p.pid)).map((p) => `${p.name} (${p.pid})`),
    ...(npm.pid && signalGroup(npm.pid, 0) ? ["a process of the group"] : []),
  ];
  while (remaining().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  expect(remaining()).toEqual([]);
}

/** Live and not a zombie (an exited process its parent has not reaped yet counts as gone). */
function alive(pid: number): boolean {
  if (existsSync("/proc/self/stat")) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals every process of the group led by `pid`; false when none is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
