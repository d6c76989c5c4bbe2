/**
 * The sections of `docs/runbook.md` that alarms link to: every alarm's description ends with the
 * link to its section (what it means, how to confirm it, what to do). An infra test checks that
 * every alarm has one and that every section exists.
 */
export const RUNBOOK = {
  deadLetters: "dead-letter-queue-not-empty",
  queueAge: "queue-message-too-old",
  functionErrors: "function-errors",
  schedulerFailedTicks: "scheduler-tick-failed",
  schedulerHeartbeat: "scheduler-heartbeat-missing",
  api5xx: "api-5xx",
  apiLatency: "api-latency",
  api4xx: "api-4xx-rate",
  uptime: "uptime-canary-failing",
  lambdaThrottles: "lambda-throttles",
  dynamoThrottles: "dynamodb-throttles",
  dynamoSystemErrors: "dynamodb-system-errors",
  replicationLatency: "replication-latency",
  sendFailed: "send-failure-rate",
  breakerOpened: "ses-circuit-breaker-opened",
  failover: "ses-failover-used",
  possibleDuplicate: "possible-duplicate",
  sesEnforcement: "ses-enforcement",
  reputationPause: "reputation-pause",
  sesReputation: "ses-bounce-or-complaint-rate",
  sesReputationEarly: "ses-reputation-early-warning",
  composite: "composite-alarms",
  webhookDisabled: "webhook-endpoint-disabled",
} as const;

export type RunbookSection = (typeof RUNBOOK)[keyof typeof RUNBOOK];

/** The runbook's path in the repository. */
export const RUNBOOK_PATH = "docs/runbook.md";

/** `description`, then the link to its runbook section. */
export const withRunbook = (description: string, section: RunbookSection): string =>
  `${description}. Runbook: ${RUNBOOK_PATH}#${section}`;
