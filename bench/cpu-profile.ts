import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

/**
 * Which process is busy while a figure is measured: CPU time of this process (the bench and the
 * local runtime in it: HTTP API, fault proxies, replication, event sources) and of every process it
 * started (DynamoDB Local, the SQS and SES emulators, each function's workers), by kind, as a share
 * of the machine (wall time × cores), from Linux's /proc. Elsewhere it reports nothing.
 */

/** Linux's USER_HZ: the unit of /proc's CPU times, 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;
const SAMPLE_MS = 1_000;

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** User + system CPU time, in ticks. */
  readonly ticks: number;
}

/** Parses /proc/<pid>/stat: the command (field 2) is in parentheses and may hold spaces. */
export function parseStat(pid: number, text: string): ProcStat | undefined {
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { pid, ppid, ticks } : undefined;
}

/** What a process of the local runtime is, from its command line. */
export function kindOf(command: string, isSelf: boolean): string {
  if (isSelf) return "runtime + bench";
  if (command.includes("DynamoDBLocal")) return "DynamoDB Local";
  if (command.includes("fauxqs")) return "SQS emulator";
  if (command.includes("aws-ses-v2-local")) return "SES emulator";
  if (command.includes("lambda-worker")) {
    // Functions are named <stack>-<construct id>Function<hash> (steadfast-us-east-1-SendFunction68AFE622).
    const role = /-([A-Za-z0-9]+?)Function[0-9A-F]{8}(?:\s|$)/.exec(command)?.[1];
    return `function ${role ?? "?"}`;
  }
  if (command.includes("webhook-receiver")) return "webhook receiver";
  return "other";
}

/** CPU seconds by kind over a window, each pid counted from its first sample (or from birth) to its last. */
export function cpuSecondsByKind(
  first: ReadonlyMap<number, number>,
  last: ReadonlyMap<number, { ticks: number; kind: string }>,
): Map<string, number> {
  const byKind = new Map<string, number>();
  for (const [pid, { ticks, kind }] of last) {
    const used = (ticks - (first.get(pid) ?? 0)) / TICKS_PER_SECOND;
    byKind.set(kind, (byKind.get(kind) ?? 0) + used);
  }
  return byKind;
}

export interface CpuProfile {
  /** Share of the machine (wall time × cores) by kind, largest first; `idle` is what no process used. */
  readonly shares: Record<string, number>;
  readonly seconds: number;
}

/** Starts sampling; `stop()` takes the last sample and returns the profile (undefined without /proc). */
export function startCpuProfile(): { stop(): CpuProfile | undefined } {
  const self = process.pid;
  const first = new Map<number, number>();
  const last = new Map<number, { ticks: number; kind: string }>();
  const started = Date.now();
  const idleAtStart = idleTicks();
  let sampled = 0;
  const sample = () => {
    const stats = readProcs();
    if (!stats) return;
    const parentOf = new Map(stats.map((s) => [s.pid, s.ppid]));
    for (const stat of stats) {
      if (!descends(stat.pid, self, parentOf)) continue;
      // A process seen in the first sample counts from there; one born later, from its birth.
      if (sampled === 0) first.set(stat.pid, stat.ticks);
      const kind = last.get(stat.pid)?.kind ?? kindOf(commandOf(stat.pid), stat.pid === self);
      last.set(stat.pid, { ticks: stat.ticks, kind });
    }
    sampled++;
  };
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      if (sampled === 0 || last.size === 0) return undefined;
      const seconds = (Date.now() - started) / 1000;
      const capacity = seconds * cpus().length;
      const byKind = cpuSecondsByKind(first, last);
      const idleAtEnd = idleTicks();
      const idle =
        idleAtStart !== undefined && idleAtEnd !== undefined
          ? (idleAtEnd - idleAtStart) / TICKS_PER_SECOND
          : undefined;
      return { shares: machineShares(byKind, idle, capacity), seconds };
    },
  };
}

/**
 * Shares of the machine (`capacity` CPU seconds) by kind, largest first. With the machine's idle
 * time known, what neither the bench's processes nor idle account for is `outside the bench`: the
 * kernel, and any process the bench did not start (one left running by an earlier part would show
 * here).
 */
export function machineShares(
  byKind: ReadonlyMap<string, number>,
  idleSeconds: number | undefined,
  capacity: number,
): Record<string, number> {
  const all = new Map(byKind);
  if (idleSeconds !== undefined) {
    all.set("idle", idleSeconds);
    const used = [...all.values()].reduce((sum, seconds) => sum + seconds, 0);
    if (capacity - used > 0) all.set("outside the bench", capacity - used);
  }
  return Object.fromEntries(
    [...all]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, cpuSeconds]) => [kind, Number((cpuSeconds / capacity).toFixed(3))]),
  );
}

/** A profile in a line: the kinds that used at least 1 % of the machine. */
export function describeProfile(profile: CpuProfile): string {
  const parts = Object.entries(profile.shares)
    .filter(([, share]) => share >= 0.01)
    .map(([kind, share]) => `${kind} ${(share * 100).toFixed(0)} %`);
  return `${parts.join(", ")} (of ${cpus().length} cores, ${profile.seconds.toFixed(0)} s)`;
}

function descends(pid: number, ancestor: number, parentOf: ReadonlyMap<number, number>): boolean {
  for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 16; hops++) {
    if (p === ancestor) return true;
    p = parentOf.get(p);
  }
  return false;
}

function readProcs(): ProcStat[] | undefined {
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return undefined;
  }
  return pids.flatMap((pid) => {
    try {
      const stat = parseStat(pid, readFileSync(`/proc/${pid}/stat`, "utf8"));
      return stat ? [stat] : [];
    } catch {
      return []; // gone between the listing and the read
    }
  });
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** The machine's idle and iowait time, in ticks (the first line of /proc/stat). */
function idleTicks(): number | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
    return Number(fields[4]) + Number(fields[5]);
  } catch {
    return undefined;
  }
}
