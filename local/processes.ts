import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";

/**
 * Child processes of the local runtime. Every child is tracked by PID so that a stop — Ctrl-C,
 * SIGTERM, or the parent exiting — leaves nothing running (DynamoDB Local's JVM included).
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private readonly names = new Map<ChildProcess, string>();
  /** Kills what is left if this process exits; removed by stopAll, so that groups stopped leave no listener. */
  private readonly killOnExit = () => this.killAllNow();
  private listening = false;

  constructor() {
    this.listen();
  }

  private listen(): void {
    if (this.listening) return;
    process.on("exit", this.killOnExit);
    this.listening = true;
  }

  spawn(
    name: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions & { logFile?: string },
  ): ChildProcess {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    this.track(child);
    this.names.set(child, name);
    if (options.logFile) {
      mkdirSync(dirname(options.logFile), { recursive: true });
      const log = createWriteStream(options.logFile, { flags: "a" });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
    } else {
      child.stdout?.resume();
      child.stderr?.resume();
    }
    child.once("error", (error) => {
      process.stderr.write(`[steadfast] ${name} failed to start: ${error.message}\n`);
    });
    return child;
  }

  track(child: ChildProcess): void {
    this.listen();
    this.children.add(child);
    child.once("exit", () => {
      this.children.delete(child);
      this.names.delete(child);
    });
  }

  /** The named children (the emulators) still running, so that a supervisor can check they are gone. */
  pids(): { name: string; pid: number }[] {
    return [...this.names].flatMap(([child, name]) => (child.pid ? [{ name, pid: child.pid }] : []));
  }

  /** SIGTERM every child, then SIGKILL whatever is still alive after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    const alive = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      alive.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              child.kill("SIGKILL");
              resolve();
            }, graceMs);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
    process.off("exit", this.killOnExit);
    this.listening = false;
  }

  private killAllNow(): void {
    for (const child of this.children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Calls `onGone` once the process that launched this one goes away. `npm start` runs the runtime
 * through a shell (and tsx's CLI): on SIGTERM npm ends that shell and exits, and on SIGKILL the shell
 * lives on, so neither the runtime's parent dying nor a signal reaching it can be relied on. So the
 * whole chain from the parent up to npm (or just the parent, when npm did not start this process)
 * is watched: a link breaks when a process of it dies, whether or not its own parent noticed.
 */
export function watchLaunchers(onGone: () => void, everyMs = 1000): void {
  // Where processes cannot be looked at (no /proc, no ps), being re-parented is the only sign.
  const inspectable = processInfo(process.pid) !== undefined;
  const chain = inspectable ? launcherChain() : [process.ppid];
  const timer = setInterval(() => {
    const broken =
      process.ppid !== chain[0] ||
      (inspectable &&
        chain.some((pid, i) => {
          const info = processInfo(pid);
          return !info || (i + 1 < chain.length && info.ppid !== chain[i + 1]);
        }));
    if (!broken) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  timer.unref();
}

/** The parent and, when npm or npx started this process, every ancestor up to it. */
function launcherChain(): number[] {
  const parent = process.ppid;
  if (process.env.npm_lifecycle_event === undefined) return [parent];
  const chain: number[] = [];
  for (let pid = parent; pid > 1 && chain.length < 5;) {
    const info = processInfo(pid);
    if (!info) break;
    chain.push(pid);
    // npm names itself "npm <command>" (npx is "npm exec"); without a title it runs npm-cli.js.
    if (/(^|[\s/])np[mx](-cli\.js)?(\s|$)/.test(info.command)) return chain;
    pid = info.ppid;
  }
  return [parent];
}

/** A live (not zombie) process's parent and command line, or undefined once it is gone. */
function processInfo(pid: number): { ppid: number; command: string } | undefined {
  if (existsSync("/proc/self/stat")) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state === "Z") return undefined;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      return { ppid: Number(ppid), command };
    } catch {
      return undefined;
    }
  }
  try {
    const line = execFileSync("ps", ["-o", "ppid=,args=", "-p", String(pid)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const match = /^\s*(\d+)\s+(.*)$/.exec(line.trim());
    return match ? { ppid: Number(match[1]), command: match[2] ?? "" } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A port nothing listens on, for a server the runtime starts (and, for a region that goes down and
 * comes back, starts again on the same port). Outside tests, any free port the system gives. In a
 * test worker (VITEST_POOL_ID), ports come from a range of that worker's own below the system's
 * ephemeral range: a port a region let go during an outage is never handed to a runtime of
 * another worker running beside it.
 */
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(worker) || worker < 1) return systemPort();
  const base = WORKER_PORT_BASE + (worker - 1) * WORKER_PORT_SPAN;
  for (let tries = 0; tries < WORKER_PORT_SPAN; tries++) {
    const port = base + (nextWorkerPort++ % WORKER_PORT_SPAN);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${base}-${base + WORKER_PORT_SPAN - 1}`);
}

/** Below Linux's default ephemeral range (32768-60999) and macOS's (49152-65535). */
const WORKER_PORT_BASE = 20_000;
const WORKER_PORT_SPAN = 1_000;
let nextWorkerPort = Math.floor(Math.random() * WORKER_PORT_SPAN);

function systemPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Resolves once something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  child?: ChildProcess,
  name = "process",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${name} exited before it was ready (code ${child.exitCode ?? child.signalCode})`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
