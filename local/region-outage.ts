import type http from "node:http";
import type { SqsEventSource } from "./event-source.ts";
import type { FaultProxy } from "./fault-proxy.ts";
import type { FunctionPool } from "./function-pool.ts";
import type { ReplicationControl } from "./replication.ts";

/** What of a region goes dark with it. */
export interface RegionParts {
  readonly name: string;
  readonly proxies: Readonly<Record<string, FaultProxy>>;
  readonly pools: ReadonlyMap<string, FunctionPool>;
  readonly eventSources: readonly SqsEventSource[];
}

/**
 * A whole region down, as in a regional outage, while the other regions go on: its HTTP API and
 * its SES, DynamoDB and SQS endpoints refuse connections (to the other regions' functions too: a
 * sender failing over to its SES finds it down), its event-source pollers and schedules stop, and
 * its replicas of the global tables are cut off from replication both ways.
 *
 * Invocations in progress are killed, environments and all, as a region that goes dark does not
 * let them finish: what a killed poller had received stays on its queue and comes back after its
 * visibility timeout, as Lambda redelivers a batch whose invocation failed. Messages in the
 * region's queues stay there. When the region comes back its pollers and schedules start again
 * (cold), so its queues drain, and what replication held back flows both ways, last writer winning.
 */
export class RegionOutage {
  private isDown = false;
  private api: { server: http.Server; port: number } | undefined;
  /** Changes are made one at a time, so that a down and an up sent together end in the last one. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly region: RegionParts,
    private readonly replication: ReplicationControl,
  ) {}

  get down(): boolean {
    return this.isDown;
  }

  /** The region's HTTP API, which stops listening while the region is down. */
  serveApi(server: http.Server, port: number): void {
    this.api = { server, port };
  }

  set(down: boolean): Promise<void> {
    const next = this.queue.then(() => (down ? this.goDown() : this.comeBack()));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async goDown(): Promise<void> {
    if (this.isDown) return;
    // Schedules check this before each tick; pollers stop before their environments are killed,
    // so that none takes a new batch in between.
    this.isDown = true;
    const stopped = Promise.allSettled(this.region.eventSources.map((s) => s.stop()));
    for (const pool of this.region.pools.values()) pool.crash();
    const api = this.api;
    const closed = api
      ? new Promise<void>((resolve) => {
          api.server.close(() => resolve());
          api.server.closeAllConnections();
        })
      : Promise.resolve();
    await Promise.all(Object.values(this.region.proxies).map((p) => p.setRegionDown(true)));
    this.replication.isolate(this.region.name, true);
    await Promise.all([stopped, closed]);
  }

  private async comeBack(): Promise<void> {
    if (!this.isDown) return;
    await Promise.all(Object.values(this.region.proxies).map((p) => p.setRegionDown(false)));
    this.replication.isolate(this.region.name, false);
    const api = this.api;
    if (api) {
      await new Promise<void>((resolve, reject) => {
        api.server.once("error", reject);
        api.server.listen(api.port, "127.0.0.1", () => {
          api.server.off("error", reject);
          resolve();
        });
      });
    }
    for (const source of this.region.eventSources) source.start();
    this.isDown = false;
  }
}
