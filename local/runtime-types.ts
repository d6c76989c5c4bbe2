import type { Assembly } from "./assembly.ts";
import type { SqsEventSource } from "./event-source.ts";
import type { FaultProxy, ServiceName } from "./fault-proxy.ts";
import type { FunctionPool } from "./function-pool.ts";
import type { RegionOutage } from "./region-outage.ts";
import type { ReplicationControl } from "./replication.ts";

/**
 * The shapes the local runtime hands out and its parts share (control routes, mailbox simulator,
 * provisioning), kept apart from the runtime so that those parts need not import it.
 */

export interface LocalRuntimeOptions {
  /** Project root (where cdk.json is). @default process.cwd() */
  readonly projectDir?: string;
  /** Port of the first region's API; the others follow. 0 picks free ports. @default 0 */
  readonly apiPort?: number;
  /** Port of the shared endpoint (routed to a healthy region). @default a free port */
  readonly sharedApiPort?: number;
  /** @default STEADFAST_API_KEY, else a new random key */
  readonly apiKey?: string;
  /** The send rate (per second, per region) the app is synthesized with; local SES has no real limit. @default 100 */
  readonly sendRate?: number;
  /**
   * The app's `coordination` setting: `none` runs it as a deployment without a coordination table
   * would run (campaigns owned by the primary region, taken over only by hand). @default the app's
   */
  readonly coordination?: "auto" | "none";
  /** The app's `sendMode` setting. @default the app's */
  readonly sendMode?: "failover" | "spread";
  /**
   * Where the functions and emulators write their logs (appended), so that runtimes running side
   * by side keep theirs apart. @default `.steadfast/logs`
   */
  readonly logDir?: string;
  /** Write `.steadfast/local.json`. @default true */
  readonly writeInfo?: boolean;
  /**
   * Run schedules (EventBridge rules) this often instead of at their own rate, so tests need not
   * wait a minute. @default the rule's own rate
   */
  readonly scheduleIntervalMs?: number;
  /**
   * The MaxSendRate each region's SES emulator reports through GetAccount (the sender paces at the
   * lower of it and the configured cap). @default sendRate
   */
  readonly sesMaxSendRate?: number;
  /**
   * Time compression for tests: extra environment per function role (`sender`, `fanout`, …), e.g. a
   * shorter send lease, and a cap on queue visibility timeouts, so that what a crash leaves behind
   * comes back in seconds instead of minutes. Production values come from the templates.
   */
  readonly environment?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly maxVisibilityTimeoutSeconds?: number;
  /**
   * Time compression for tests: the campaign owner's lease (`OWNER_LEASE_SECONDS`) of every function
   * that acts on campaigns, so that a takeover after a region is lost comes after this long instead
   * of the production lease. Keep it well above `scheduleIntervalMs`: the owner renews at each tick.
   * @default the templates' (lib/coordination.ts)
   */
  readonly ownerLeaseSeconds?: number;
  /**
   * How long a write to a global table takes to reach the other regions' replicas (the control API
   * changes it for a while: `{ "target": "replication", "mode": "lag", "ms" }`). @default 1000
   */
  readonly replicationLagMs?: number;
  /**
   * Which accepted messages the local SES publishes events for: `all` (as SES does: Send and
   * Delivery for every message, and the mailbox simulator's scripts for its addresses), or
   * `simulator` (its addresses only, so that a test's ordinary traffic costs no feedback work).
   * @default "all"
   */
  readonly sesEvents?: "all" | "simulator";
  /** Called with problems the runtime itself hits (poller errors and the like). */
  readonly onWarning?: (message: string) => void;
}

export interface LocalInfo {
  /** The primary region's API. */
  readonly apiUrl: string;
  /** The shared hostname: routed to a healthy region, as Route 53 does on AWS (local/shared-endpoint.ts). */
  readonly sharedApiUrl: string;
  readonly apiKey: string;
  /** Fault injection, crashes and statistics: see local/control-routes.ts. */
  readonly controlUrl: string;
  readonly regions: { name: string; apiUrl: string; sesUrl: string }[];
  /** DynamoDB Local, every region's replica (each region signs with its own name). */
  readonly dynamodbUrl: string;
  /** The runtime's own process and its emulators (DynamoDB Local's JVM included), by PID. */
  readonly processes: { name: string; pid: number }[];
}

/** A queue the runtime created, by the URL clients use and the ARN templates and events name. */
export interface QueueRef {
  url: string;
  arn: string;
}

/**
 * The strongly consistent global tables (multi-region strong consistency, MRSC) and the one store
 * of DynamoDB Local that holds them, named by the signing region that reaches it.
 */
export interface CoordinationTables {
  readonly region: string;
  readonly tables: readonly string[];
}

export interface RegionRuntime {
  readonly name: string;
  readonly apiUrl: string;
  readonly sesUrl: string;
  readonly proxies: Record<ServiceName, FaultProxy>;
  readonly pools: Map<string, FunctionPool>;
  readonly eventSources: SqsEventSource[];
  /** Queue URLs by the queue's logical id in the template. */
  readonly queues: Map<string, QueueRef>;
  /** Takes the whole region down and back (`{ "target": "region" }` on the control API). */
  readonly outage: RegionOutage;
}

export interface LocalRuntime {
  readonly info: LocalInfo;
  /** The directory of its logs: `<role>-<region>.log` per function, one per emulator. */
  readonly logDir: string;
  readonly regions: RegionRuntime[];
  readonly assembly: Assembly;
  /** The emulators every region shares (Secrets Manager: the deployment's secrets, for tests and tools). */
  readonly endpoints: { dynamodb: string; sqs: string; secretsManager: string };
  /** The replication between the regions' replicas of the global tables. */
  readonly replication: ReplicationControl;
  /**
   * The strongly consistent global tables, in one store every region reaches through its own
   * DynamoDB endpoint, signing with `region`; absent if the app declares none.
   */
  readonly coordination?: CoordinationTables;
  stop(): Promise<void>;
}
