import { type ChildProcess, fork } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LOCAL_ACCOUNT } from "./local-account.ts";
import type { ProcessGroup } from "./processes.ts";

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "lambda-worker.mjs");

export interface FunctionSpec {
  /** Stack-qualified name, used in logs. */
  readonly name: string;
  readonly role: string;
  readonly region: string;
  readonly modulePath: string;
  readonly handler: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Record<string, string>;
}

export class InvocationError extends Error {
  override readonly name = "InvocationError";
  constructor(
    message: string,
    readonly kind: "error" | "timeout" | "crash",
  ) {
    super(message);
  }
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  busy: boolean;
  pending?: {
    id: number;
    resolve: (value: unknown) => void;
    reject: (error: Error) => void;
    timer: NodeJS.Timeout;
  };
}

/**
 * Execution environments of one function, as Lambda keeps them: each worker process runs one
 * invocation at a time, is reused while warm, and is thrown away when it crashes or times out.
 */
export class FunctionPool {
  private readonly workers = new Set<Worker>();
  private readonly waiters: (() => void)[] = [];
  private readonly log: WriteStream;
  private nextId = 1;
  private closed = false;
  invocations = 0;
  /** Sum of invocation durations (ms), for cost estimates. */
  busyMs = 0;

  constructor(
    readonly spec: FunctionSpec,
    private readonly maxWorkers: number,
    private readonly group: ProcessGroup,
    logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true });
    this.log = createWriteStream(join(logDir, `${spec.role}-${spec.region}.log`), { flags: "a" });
    // Every worker pipes its stdout and stderr into the log: two listeners of each kind per worker,
    // for the pool's workers and as many retired ones not yet gone.
    this.log.setMaxListeners(4 * maxWorkers + 2);
  }

  async invoke(event: unknown): Promise<unknown> {
    const worker = await this.acquire();
    this.invocations++;
    const started = Date.now();
    try {
      await worker.ready;
      return await new Promise((resolve, reject) => {
        const id = this.nextId++;
        const timer = setTimeout(() => {
          // Lambda ends an invocation that runs past its timeout, and the environment with it: the
          // next invocation gets a fresh one, never this one dying.
          worker.pending = undefined;
          this.retire(worker);
          reject(
            new InvocationError(`${this.spec.name} timed out after ${this.spec.timeoutSeconds} s`, "timeout"),
          );
        }, this.spec.timeoutSeconds * 1000);
        worker.pending = { id, resolve, reject, timer };
        // A worker that died between its last invocation and this one (a crash, a region taken
        // down) cannot take the event: the invocation fails as a crash, never as an uncaught EPIPE.
        worker.child.send({ id, event }, (error) => {
          if (!error || worker.pending?.id !== id) return;
          clearTimeout(timer);
          worker.pending = undefined;
          this.retire(worker);
          reject(new InvocationError(`${this.spec.name} environment is gone (${error.message})`, "crash"));
        });
      });
    } finally {
      this.busyMs += Date.now() - started;
      this.release(worker);
    }
  }

  /** Kills every worker, busy ones mid-invocation, as a crashing Lambda container would die. */
  crash(): number {
    let killed = 0;
    for (const worker of [...this.workers]) {
      if (worker.busy) killed++;
      this.retire(worker);
    }
    return killed;
  }

  /** Kills a worker and takes it out of the pool at once: its exit is only seen later. */
  private retire(worker: Worker): void {
    this.workers.delete(worker);
    worker.child.kill("SIGKILL");
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const worker of this.workers) worker.child.kill("SIGTERM");
    this.log.end();
  }

  private async acquire(): Promise<Worker> {
    for (;;) {
      if (this.closed) throw new InvocationError(`${this.spec.name} is shut down`, "crash");
      for (const worker of this.workers) {
        if (!worker.busy) {
          worker.busy = true;
          return worker;
        }
      }
      if (this.workers.size < this.maxWorkers) {
        const worker = this.start();
        worker.busy = true;
        return worker;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(worker: Worker): void {
    worker.busy = false;
    this.waiters.shift()?.();
  }

  private start(): Worker {
    const { spec } = this;
    const child = fork(
      WORKER,
      [
        spec.modulePath,
        spec.handler,
        spec.name,
        String(spec.timeoutSeconds * 1000),
        String(spec.memoryMb),
        // The worker, plain JavaScript on a clean Node, cannot import the account id itself.
        LOCAL_ACCOUNT,
      ],
      // A clean Node, as Lambda's: no flags inherited from whatever started the runtime.
      {
        env: spec.environment,
        execArgv: [],
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        cwd: dirname(spec.modulePath),
      },
    );
    this.group.track(child);
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    let markReady: () => void = () => {};
    let failReady: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    ready.catch(() => undefined);
    const worker: Worker = { child, ready, busy: false };
    child.on(
      "message",
      (message: {
        ready?: boolean;
        id?: number;
        ok?: boolean;
        result?: unknown;
        error?: { name: string; message: string };
      }) => {
        if (message.ready) {
          markReady();
          return;
        }
        const pending = worker.pending;
        if (!pending || pending.id !== message.id) return;
        clearTimeout(pending.timer);
        worker.pending = undefined;
        if (message.ok) pending.resolve(message.result);
        else
          pending.reject(new InvocationError(`${message.error?.name}: ${message.error?.message}`, "error"));
      },
    );
    child.once("exit", (code, signal) => {
      this.workers.delete(worker);
      const error = new InvocationError(`${spec.name} environment died (${signal ?? code})`, "crash");
      failReady(error);
      if (worker.pending) {
        clearTimeout(worker.pending.timer);
        worker.pending.reject(error);
        worker.pending = undefined;
      }
      this.waiters.shift()?.();
    });
    this.workers.add(worker);
    return worker;
  }
}
