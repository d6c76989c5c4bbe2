import { DynamoWire } from "./dynamodb-wire.ts";
import { ReplicaStream } from "./replica-stream.ts";
import { ReplicationClock, type ReplicationSettings, TableReplication } from "./table-replication.ts";

/** A global table and the regions of its replicas. */
export interface GlobalTableRef {
  readonly name: string;
  readonly regions: readonly string[];
}

export interface ReplicationOptions {
  /** How long a write takes to reach the other replicas. @default 1000 */
  readonly lagMs?: number;
  /**
   * How often each replica's stream is read when nothing said it was written to (`nudge`): the
   * safety net for writes made around the region's proxy, DynamoDB Local's TTL expiries included.
   * @default 1000
   */
  readonly pollMs?: number;
  readonly onWarning?: (message: string) => void;
}

/** What the control API shows and changes. */
export interface ReplicationControl {
  /** Replication `lagMs` from now on (`down`: nothing replicates until healed). */
  set(settings: { lagMs?: number; down?: boolean }): void;
  /** Back to the runtime's own lag, replication up: what was held back replicates, last writer winning. */
  heal(): void;
  /**
   * Holds (or releases) every link of one region's replicas, as when the region is down: nothing
   * reaches them or leaves them; the other regions replicate between themselves. `heal` leaves it.
   */
  isolate(region: string, isolated: boolean): void;
  /** Says a region's replica was just written to: its streams are read at once. */
  nudge(region: string): void;
  readonly settings: ReplicationSettings;
}

/** Warnings about one replica are repeated at most this often. */
const WARN_EVERY_MS = 10_000;

/**
 * The replication of every global table between its replicas in DynamoDB Local (one store per
 * region): for each table and region, a loop that reads the replica's stream and delivers to it
 * what the other replicas wrote (see `TableReplication` for the rules).
 */
export class Replication implements ReplicationControl {
  private current: ReplicationSettings;
  private readonly defaultLagMs: number;
  private readonly pollMs: number;
  private readonly tables: { replication: TableReplication; streams: ReplicaStream[] }[] = [];
  private readonly loops: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private readonly lastWarning = new Map<string, number>();
  /** Wakes a sleeping loop, by region: a nudge, or a change of the settings. */
  private readonly wakers = new Map<string, Set<() => void>>();

  constructor(
    private readonly endpoint: string,
    private readonly globalTables: readonly GlobalTableRef[],
    private readonly options: ReplicationOptions = {},
  ) {
    this.defaultLagMs = options.lagMs ?? 1000;
    this.pollMs = options.pollMs ?? 1000;
    this.current = { lagMs: this.defaultLagMs, down: false };
  }

  get settings(): ReplicationSettings {
    return this.current;
  }

  set(settings: { lagMs?: number; down?: boolean; isolated?: ReadonlySet<string> }): void {
    this.current = { ...this.current, ...settings };
    for (const region of this.wakers.keys()) this.nudge(region);
  }

  heal(): void {
    this.set({ lagMs: this.defaultLagMs, down: false });
  }

  isolate(region: string, isolated: boolean): void {
    const regions = new Set(this.current.isolated);
    if (isolated) regions.add(region);
    else regions.delete(region);
    this.set({ isolated: regions });
  }

  nudge(region: string): void {
    for (const wake of this.wakers.get(region) ?? []) wake();
  }

  /** Opens every replica's stream (at its end: nothing has written to the tables yet) and starts replicating. */
  async start(): Promise<void> {
    const clock = new ReplicationClock();
    for (const table of this.globalTables) {
      const streams = table.regions.map(
        (region) => new ReplicaStream(new DynamoWire(this.endpoint, region), table.name),
      );
      await Promise.all(streams.map((s) => s.start()));
      const replication = new TableReplication(
        table.name,
        streams,
        () => this.current,
        clock,
        (region, error) => this.warn(`${table.name} (${region})`, error),
      );
      this.tables.push({ replication, streams });
    }
    for (const { replication, streams } of this.tables) {
      for (const stream of streams) this.loops.push(this.run(replication, stream.region));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  /**
   * One replica's loop: reads its stream and makes its due deliveries; then, unless the stream had
   * more, sleeps until the next delivery is due, a nudge, or the poll interval.
   */
  private async run(replication: TableReplication, region: string): Promise<void> {
    const { signal } = this.abort;
    const wakers = this.wakers.get(region) ?? new Set<() => void>();
    this.wakers.set(region, wakers);
    const loop = { nudged: false, wake: () => {} };
    const waker = () => {
      loop.nudged = true;
      loop.wake();
    };
    wakers.add(waker);
    try {
      while (!signal.aborted) {
        loop.nudged = false;
        let read = 0;
        try {
          read = await replication.pump(region);
        } catch (error) {
          this.warn(`${replication.table} (${region})`, error as Error);
        }
        if (read > 0 || loop.nudged || signal.aborted) continue;
        const due = replication.nextDueIn(region);
        const ms = Math.max(0, Math.min(this.pollMs, Math.ceil(due ?? Infinity)));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          loop.wake = () => {
            clearTimeout(timer);
            resolve();
          };
          signal.addEventListener("abort", loop.wake, { once: true });
        });
        signal.removeEventListener("abort", loop.wake);
        loop.wake = () => {};
      }
    } finally {
      wakers.delete(waker);
    }
  }

  private warn(replica: string, error: Error): void {
    if (this.abort.signal.aborted) return;
    const now = Date.now();
    if (now - (this.lastWarning.get(replica) ?? 0) < WARN_EVERY_MS) return;
    this.lastWarning.set(replica, now);
    this.options.onWarning?.(`replication of ${replica}: ${error.message}`);
  }
}
