/**
 * How webhook deliveries are retried, and when an endpoint is given up on. An endpoint that does not
 * answer 2xx within DELIVERY_TIMEOUT_MS is tried again after 30 s, then twice as long each time up
 * to 1 hour between tries, for RETRY_FOR_MS after the first try; after that the delivery is
 * `failed` (still replayable). An endpoint that has failed every delivery for DISABLE_AFTER_MS is
 * disabled (and an alarm fires), until it is enabled again by PATCH.
 */
export const DELIVERY_TIMEOUT_MS = 10_000;
const FIRST_RETRY_SECONDS = 30;
const MAX_RETRY_SECONDS = 3600;
export const RETRY_FOR_MS = 3 * 24 * 3600 * 1000;
export const DISABLE_AFTER_MS = 24 * 3600 * 1000;

/**
 * The wait before try `attempt + 1` (attempt 1 is the first try), or undefined when the delivery is
 * given up on: its next try would come RETRY_FOR_MS or more after the first.
 */
export function nextRetrySeconds(attempt: number, firstAttemptMs: number, nowMs: number): number | undefined {
  const wait = Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempt - 1));
  return nowMs + wait * 1000 - firstAttemptMs >= RETRY_FOR_MS ? undefined : wait;
}

/**
 * A delivery begun this long ago and still untried was cut off (its function timed out or died
 * between beginning it and its first try). Longer than a try and than a webhooks invocation (60 s),
 * so a live worker's delivery is never taken from it.
 */
const CUT_OFF_MS = 90_000;

/** Whether a delivery was begun and cut off before its first try: the next to meet it tries it. */
export const isCutOff = (
  delivery: { readonly status: string; readonly attempts: number; readonly begunAt?: number },
  nowMs: number,
): boolean =>
  delivery.status === "pending" && delivery.attempts === 0 && nowMs - (delivery.begunAt ?? 0) >= CUT_OFF_MS;

/** Whether an endpoint failing since `failingSinceMs` is to be disabled now. */
export const shouldDisable = (failingSinceMs: number | undefined, nowMs: number): boolean =>
  failingSinceMs !== undefined && nowMs - failingSinceMs >= DISABLE_AFTER_MS;

/**
 * Whether a URL may receive webhooks: HTTPS anywhere; plain HTTP only to a loopback address, and
 * only where the runtime allows it (the local runtime).
 */
export function webhookUrlProblem(url: string, allowLoopbackHttp: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  if (parsed.username || parsed.password) return "must not hold credentials";
  if (parsed.protocol === "https:") return undefined;
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol === "http:" && loopback && allowLoopbackHttp) return undefined;
  return allowLoopbackHttp ? "must be https, or http to a loopback address" : "must be https";
}

/** One region's view of an endpoint's health, as its webhooks function recorded it. */
export interface EndpointHealth {
  readonly region: string;
  /** When its deliveries from this region started failing, none succeeding since. */
  readonly failingSince?: string;
  readonly disabledAt?: string;
  readonly disabledReason?: string;
}

interface EndpointSettings {
  readonly status: "enabled" | "disabled";
  readonly enabledAt?: string;
  readonly createdAt: string;
}

/** The time from which a region's health counts for an endpoint: when it was last enabled. */
export const healthSince = (settings: EndpointSettings): string => settings.enabledAt ?? settings.createdAt;

/**
 * An endpoint's state from its settings and every region's health: disabled when its settings say
 * so, or when a region disabled it since it was last enabled (`enabledAt`, else its creation);
 * failing since the earliest failure recorded since then. A region's health from before the
 * endpoint was last enabled is history, not its state.
 */
export function endpointState(
  settings: EndpointSettings,
  health: readonly EndpointHealth[],
): { state: "enabled" | "disabled"; failingSince?: string; disabledReason?: string } {
  const since = healthSince(settings);
  const failing = health
    .map((h) => h.failingSince)
    .filter((at): at is string => at !== undefined && at >= since)
    .sort()[0];
  const disabledBy = health.find((h) => h.disabledAt !== undefined && h.disabledAt >= since);
  const failingField = failing ? { failingSince: failing } : {};
  if (settings.status === "disabled") return { state: "disabled", ...failingField };
  if (disabledBy)
    return {
      state: "disabled",
      ...failingField,
      disabledReason: `${disabledBy.region}: ${disabledBy.disabledReason ?? "disabled"}`,
    };
  return { state: "enabled", ...failingField };
}
