import type { ControlServer } from "./control.ts";
import { ControlError } from "./control.ts";
import type { FaultMode, FaultSettings, ServiceName } from "./fault-proxy.ts";
import type { ReplicationControl } from "./replication.ts";
import type { RegionRuntime } from "./runtime-types.ts";

const TARGETS: readonly ServiceName[] = ["ses", "dynamodb", "sqs"];
const MODES: readonly FaultMode[] = ["ok", "down", "error", "throttle", "latency", "lost-answer"];
const FUNCTIONS = ["sender", "fanout", "api", "scheduler"];

/**
 * Fault control for chaos tests (POST/DELETE/GET /faults), crashes (POST /crash) and statistics
 * (GET /stats), over every region's proxies, function pools and outage switch and the global
 * tables' replication.
 */
export function registerControlRoutes(
  control: ControlServer,
  regions: readonly RegionRuntime[],
  replication: ReplicationControl,
): void {
  const region = (name: unknown): RegionRuntime[] => {
    if (name === undefined) return [...regions];
    const found = regions.find((r) => r.name === name);
    if (!found) throw new ControlError(`region must be one of ${regions.map((r) => r.name).join(", ")}`);
    return [found];
  };

  control.route("POST", "/faults", async (raw) => {
    const body = (raw ?? {}) as Record<string, unknown>;
    if (body.target === "replication") {
      replicationFault(replication, body);
      return { status: 204 };
    }
    if (body.target === "region") {
      if (body.region === undefined) throw new ControlError("region is required for the region target");
      if (body.mode !== "down" && body.mode !== "ok")
        throw new ControlError("mode must be one of down, ok for the region target");
      for (const r of region(body.region)) await r.outage.set(body.mode === "down");
      return { status: 204 };
    }
    if (!TARGETS.includes(body.target as ServiceName))
      throw new ControlError(`target must be one of ${[...TARGETS, "replication", "region"].join(", ")}`);
    if (!MODES.includes(body.mode as FaultMode))
      throw new ControlError(`mode must be one of ${MODES.join(", ")}`);
    if (
      body.error !== undefined &&
      (typeof body.error !== "string" || !/^[A-Za-z]{1,64}$/.test(body.error))
    ) {
      throw new ControlError("error must be an AWS error name");
    }
    for (const key of ["ratePerSecond", "latencyMs"] as const) {
      if (body[key] !== undefined && !(typeof body[key] === "number" && body[key] >= 0)) {
        throw new ControlError(`${key} must be a non-negative number`);
      }
    }
    if (body.count !== undefined) {
      if (body.mode !== "lost-answer") throw new ControlError("count applies to the lost-answer mode only");
      if (!(typeof body.count === "number" && Number.isSafeInteger(body.count) && body.count > 0))
        throw new ControlError("count must be a positive integer");
    }
    if (body.recipients !== undefined) {
      if (body.target !== "ses" || body.mode !== "error")
        throw new ControlError("recipients applies to the ses target's error mode only");
      const list = body.recipients;
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        !list.every((r) => typeof r === "string" && r.includes("@"))
      )
        throw new ControlError("recipients must be a list of email addresses");
    }
    const settings: FaultSettings = {
      mode: body.mode as FaultMode,
      ...(body.recipients ? { recipients: body.recipients as string[] } : {}),
      ...(body.error ? { error: body.error } : {}),
      ...(body.ratePerSecond !== undefined ? { ratePerSecond: body.ratePerSecond as number } : {}),
      ...(body.latencyMs !== undefined ? { latencyMs: body.latencyMs as number } : {}),
      ...(body.count !== undefined ? { count: body.count } : {}),
    };
    for (const r of region(body.region)) await r.proxies[body.target as ServiceName].set(settings);
    return { status: 204 };
  });

  control.route("DELETE", "/faults", async () => {
    for (const r of regions) for (const proxy of Object.values(r.proxies)) await proxy.set({ mode: "ok" });
    for (const r of regions) await r.outage.set(false);
    replication.heal();
    return { status: 204 };
  });

  control.route("GET", "/faults", () => ({ status: 200, body: faultsNow(regions, replication) }));

  control.route("POST", "/crash", (raw) => {
    const body = (raw ?? {}) as Record<string, unknown>;
    if (!FUNCTIONS.includes(body.function as string))
      throw new ControlError(`function must be one of ${FUNCTIONS.join(", ")}`);
    let killed = 0;
    for (const r of region(body.region)) killed += r.pools.get(body.function as string)?.crash() ?? 0;
    return { status: 200, body: { killedInvocations: killed } };
  });

  control.route("GET", "/stats", () => {
    const requests: Record<string, Record<string, Record<string, number>>> = {};
    const sesAccepted: Record<string, number> = {};
    const dynamoWriteUnits: Record<string, number> = {};
    const invocations: Record<string, Record<string, number>> = {};
    const busyMs: Record<string, Record<string, number>> = {};
    for (const r of regions) {
      for (const proxy of Object.values(r.proxies)) {
        const byOperation = (requests[proxy.service] ??= {});
        for (const [operation, count] of Object.entries(proxy.stats.requests)) {
          const byRegion = (byOperation[operation] ??= {});
          byRegion[r.name] = (byRegion[r.name] ?? 0) + count;
        }
      }
      sesAccepted[r.name] = r.proxies.ses.stats.sesAccepted;
      dynamoWriteUnits[r.name] = r.proxies.dynamodb.stats.dynamoWriteUnits;
      for (const [role, pool] of r.pools) {
        (invocations[role] ??= {})[r.name] = pool.invocations;
        (busyMs[role] ??= {})[r.name] = pool.busyMs;
      }
    }
    return {
      status: 200,
      body: { regions: regionStates(regions), requests, sesAccepted, dynamoWriteUnits, invocations, busyMs },
    };
  });
}

/**
 * `{ "target": "replication", "mode": "lag", "ms" }` sets the replication lag; `"mode": "down"`
 * holds every write in its region until healed (`"mode": "ok"` or `DELETE /faults`).
 */
function replicationFault(replication: ReplicationControl, body: Record<string, unknown>): void {
  if (body.mode === "lag") {
    if (!(typeof body.ms === "number" && Number.isFinite(body.ms) && body.ms >= 0))
      throw new ControlError("ms must be a non-negative number");
    replication.set({ lagMs: body.ms });
  } else if (body.mode === "down") replication.set({ down: true });
  else if (body.mode === "ok") replication.heal();
  else throw new ControlError("mode must be one of lag, down, ok for the replication target");
}

/**
 * The faults in force: each region up or down, each service's own mode by region, how many requests
 * each counted fault still applies to, replication.
 */
function faultsNow(regions: readonly RegionRuntime[], replication: ReplicationControl) {
  const services: Record<string, Record<string, FaultMode>> = {};
  const requestsLeft: Record<string, Record<string, number>> = {};
  for (const r of regions)
    for (const proxy of Object.values(r.proxies)) {
      (services[proxy.service] ??= {})[r.name] = proxy.mode;
      if (proxy.requestsLeft !== undefined) (requestsLeft[proxy.service] ??= {})[r.name] = proxy.requestsLeft;
    }
  const { lagMs, down, isolated } = replication.settings;
  return {
    regions: regionStates(regions),
    services,
    requestsLeft,
    replication: { lagMs, down, isolatedRegions: [...(isolated ?? [])].sort() },
  };
}

const regionStates = (regions: readonly RegionRuntime[]): Record<string, "up" | "down"> =>
  Object.fromEntries(regions.map((r) => [r.name, r.outage.down ? "down" : "up"]));
