/**
 * Environment variable names: the CDK stacks (lib/) set them, the functions read them, the local
 * runtime resolves them from the synthesized templates. Spelled here once so the three cannot
 * drift apart.
 */
export const ENV = {
  /** Which function this is (api, fanout, sender, scheduler, audience-jobs, feedback). */
  function: "STEADFAST_FUNCTION",
  audienceTable: "AUDIENCE_TABLE",
  ledgerTable: "LEDGER_TABLE",
  fanoutQueueUrl: "FANOUT_QUEUE_URL",
  fanoutDlqUrl: "FANOUT_DLQ_URL",
  sendQueueUrl: "SEND_QUEUE_URL",
  sendDlqUrl: "SEND_DLQ_URL",
  /** The audience-jobs queue: CSV import chunks and list erasures. */
  audienceJobsQueueUrl: "AUDIENCE_JOBS_QUEUE_URL",
  feedbackQueueUrl: "FEEDBACK_QUEUE_URL",
  /** The webhooks queue: events to deliver to endpoints, and deliveries to retry. */
  webhookQueueUrl: "WEBHOOK_QUEUE_URL",
  /** Whether webhook URLs may be plain HTTP to a loopback address (local runtime only). */
  loopbackWebhooks: "STEADFAST_LOOPBACK_WEBHOOKS",
  feedbackDlqUrl: "FEEDBACK_DLQ_URL",
  unsubscribeSecretId: "UNSUBSCRIBE_SECRET_ID",
  adminKeySecretId: "ADMIN_KEY_SECRET_ID",
  /** Requests per second each API key may make, per API container (429 with Retry-After beyond). */
  apiKeyRateLimit: "API_KEY_RATE_LIMIT",
  /** Burst of requests each API key may make at once, per API container. */
  apiKeyBurstLimit: "API_KEY_BURST_LIMIT",
  /** The HTTPS base URL mailed links point at. */
  publicApiUrl: "PUBLIC_API_URL",
  senderDomain: "SENDER_DOMAIN",
  defaultFromAddress: "DEFAULT_FROM_ADDRESS",
  /** Comma-separated SES regions, home region first. */
  sesRegions: "SES_REGIONS",
  sesConfigurationSet: "SES_CONFIGURATION_SET",
  /** JSON map region → SES endpoint URL (local runtime only). */
  sesEndpoints: "STEADFAST_SES_ENDPOINTS",
  maxSendRate: "MAX_SEND_RATE",
  sendMode: "SEND_MODE",
  senderConcurrency: "SENDER_CONCURRENCY",
  /** The send queue's event source batch size: how many messages one sender invocation takes. */
  sendBatchSize: "SEND_BATCH_SIZE",
  breakerCooldownSeconds: "BREAKER_COOLDOWN_SECONDS",
  sendLeaseSeconds: "SEND_LEASE_SECONDS",
  retryMaxDelaySeconds: "RETRY_MAX_DELAY_SECONDS",
  ledgerRetentionDays: "LEDGER_RETENTION_DAYS",
  stalledAfterSeconds: "STALLED_AFTER_SECONDS",
  fanoutPageSize: "FANOUT_PAGE_SIZE",
  fanoutSliceSize: "FANOUT_SLICE_SIZE",
  fanoutLeaseSeconds: "FANOUT_LEASE_SECONDS",
  /** The region every campaign is owned by when there is no coordination table (config primaryRegion). */
  homeRegion: "STEADFAST_HOME_REGION",
  /**
   * The strongly consistent (MRSC) coordination table holding each campaign's owner and lease.
   * Unset when the deployment's regions cannot have one: campaigns are then owned by the home
   * region, and taken over only by hand (POST /v1/campaigns/{id}/takeover).
   */
  coordinationTable: "COORDINATION_TABLE",
  /**
   * The region whose endpoint serves the coordination table (local runtime only: one strongly
   * consistent store for every region). On AWS unset: each function uses its own region's replica.
   */
  coordinationRegion: "STEADFAST_COORDINATION_REGION",
  /** How long a campaign's owner region holds it without renewing; another may take over after. */
  ownerLeaseSeconds: "OWNER_LEASE_SECONDS",
  /** The SQS emulator's inspection endpoint (local runtime only): queue ages without CloudWatch. */
  sqsInspectUrl: "STEADFAST_SQS_INSPECT_URL",
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
