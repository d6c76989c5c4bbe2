import { setTimeout as sleep } from "node:timers/promises";
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
  /** How often each replica's stream is read while it is quiet. @default 50 */
  readonly pollMs?: number;
  readonly onWarning?: (message: string) => void;
}

/** What the control API shows and changes. */
export interface ReplicationControl {
  /** Replication `lagMs` from now on (`down`: nothing replicates until healed). */
  set(settings: { lagMs?: number; down?: boolean }): void;
  /** Back to the runtime's own lag, replication up: what was held back replicates, last writer winning. */
  heal(): void;
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

  constructor(
    private readonly endpoint: string,
    private readonly globalTables: readonly GlobalTableRef[],
    private readonly options: ReplicationOptions = {},
  ) {
    this.defaultLagMs = options.lagMs ?? 1000;
    this.pollMs = options.pollMs ?? 50;
    this.current = { lagMs: this.defaultLagMs, down: false };
  }

  get settings(): ReplicationSettings {
    return this.current;
  }

  set(settings: { lagMs?: number; down?: boolean }): void {
    this.current = { ...this.current, ...settings };
  }

  heal(): void {
    this.current = { lagMs: this.defaultLagMs, down: false };
  }

  /** Opens every replica's stream (from its first record) and starts replicating. */
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

  /** Deliveries not made yet (held back by the lag, or by replication being down). */
  backlog(): number {
    return this.tables.reduce((n, t) => n + t.replication.backlog(), 0);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async run(replication: TableReplication, region: string): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      let read = 0;
      try {
        read = await replication.pump(region);
      } catch (error) {
        this.warn(`${replication.table} (${region})`, error as Error);
      }
      if (read > 0 || signal.aborted) continue;
      await sleep(this.pollMs, undefined, { signal }).catch(() => {});
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
