import { emailHash } from "../shared/email-hash.ts";
import { GetAccountCommand } from "@aws-sdk/client-sesv2";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { ApiKeyStore } from "../adapters/api-key-store.ts";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import {
  createCoordinationClient,
  createDocumentClient,
  createSesClient,
  createSqsClient,
} from "../adapters/clients.ts";
import { IdempotencyStore } from "../adapters/idempotency-store.ts";
import { IdempotencyClaimStore } from "../adapters/idempotency-claim-store.ts";
import { pingTable } from "../adapters/dynamo/health.ts";
import { ImportStore } from "../adapters/import-store.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { ListStore } from "../adapters/list-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { CloudWatchOldestAge, EmulatorOldestAge, QueueAdmin } from "../adapters/queue-admin.ts";
import { SegmentStore } from "../adapters/segment-store.ts";
import { TemplateStore } from "../adapters/template-store.ts";
import { WebhookDeliveryStore } from "../adapters/webhook-delivery-store.ts";
import { WebhookStore } from "../adapters/webhook-store.ts";
import { webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { ENV } from "../contracts/env.ts";
import { hashApiKey } from "../domain/api-key.ts";
import { ValidationError } from "../domain/errors.ts";
import { cachedSecret, nonEmpty } from "../adapters/cached-secret.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, traceHandler } from "../shared/powertools.ts";
import { within } from "../shared/concurrency.ts";
import { ADMIN_KEY_CACHE_MS, Authenticator } from "./auth.ts";
import type { Deps } from "./context.ts";
import { errorResult, type HttpEvent, type HttpResult } from "./http.ts";
import { ApiError, toApiError } from "./http-errors.ts";
import { idempotencyKey, idempotent, type IdempotencyStores } from "./idempotency.ts";
import { ROUTES } from "./route-table.ts";
import { type Match, Router } from "./router.ts";
import { KeyRateLimiter } from "./rate-limit.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const fanoutQueueUrl = requireEnv(ENV.fanoutQueueUrl);
const audienceTable = requireEnv(ENV.audienceTable);
const ledgerTable = requireEnv(ENV.ledgerTable);
const sendQueueUrl = requireEnv(ENV.sendQueueUrl);
/** The region's own SES, for the health check only (the senders send). */
const sesClient = createSesClient(requireEnv("AWS_REGION"));
const apiKeys = new ApiKeyStore(db, audienceTable);
/** Set by the local runtime only: queue ages come from the emulator there, from CloudWatch on AWS. */
const sqsInspectUrl = process.env[ENV.sqsInspectUrl];
const queue = new QueuePublisher(sqs);
const webhookEvents = webhookPublisherFromEnv(db, queue);
const coordinationTable = process.env[ENV.coordinationTable];
const idempotency: IdempotencyStores = {
  records: new IdempotencyStore(db, audienceTable),
  // With a coordination table, a key holds across regions (api/idempotency.ts).
  ...(coordinationTable
    ? {
        claims: new IdempotencyClaimStore(
          createCoordinationClient(),
          coordinationTable,
          requireEnv("AWS_REGION"),
        ),
      }
    : {}),
};
// Re-read within a minute, so a changed admin secret takes effect everywhere that soon.
const adminKeyHash = cachedSecret(
  requireEnv(ENV.adminKeySecretId),
  (key) => (key ? hashApiKey(key) : undefined),
  undefined,
  ADMIN_KEY_CACHE_MS,
);
const deps: Deps = {
  lists: new ListStore(db, audienceTable),
  subscribers: new SubscriberStore(db, audienceTable),
  segments: new SegmentStore(db, audienceTable),
  templates: new TemplateStore(db, audienceTable),
  webhooks: new WebhookStore(db, audienceTable),
  webhookDeliveries: new WebhookDeliveryStore(db, audienceTable),
  events: webhookEvents,
  webhookQueueUrl: process.env[ENV.webhookQueueUrl],
  allowLoopbackWebhooks: process.env[ENV.loopbackWebhooks] === "true",
  campaigns: new CampaignStore(db, audienceTable, webhookEvents.transitions()),
  counters: new CampaignCounterStore(db, audienceTable, requireEnv("AWS_REGION")),
  ownership: ownershipFromEnv(db),
  agenda: new CampaignAgendaStore(db, audienceTable),
  apiKeys,
  imports: new ImportStore(db, audienceTable),
  audienceJobsQueueUrl: requireEnv(ENV.audienceJobsQueueUrl),
  ledger: new LedgerStore(db, ledgerTable),
  retentionDays: numberEnv(ENV.ledgerRetentionDays, 90),
  queue,
  fanoutQueueUrl,
  sendQueueUrl,
  queueAdmin: new QueueAdmin(
    sqs,
    [
      { name: "fanout", url: fanoutQueueUrl, dlqUrl: requireEnv(ENV.fanoutDlqUrl) },
      { name: "send", url: sendQueueUrl, dlqUrl: requireEnv(ENV.sendDlqUrl) },
    ],
    sqsInspectUrl ? new EmulatorOldestAge(sqsInspectUrl) : new CloudWatchOldestAge(),
  ),
  senderDomain: requireEnv(ENV.senderDomain).toLowerCase(),
  defaultFrom: requireEnv(ENV.defaultFromAddress),
  now: () => new Date(),
  suppressions: new SuppressionStore(db, audienceTable),
  adminKeyHash,
  unsubscribeSecret: cachedSecret(requireEnv(ENV.unsubscribeSecretId), nonEmpty("unsubscribe")),
  checkHealth: async () => {
    const [dynamodb, queues, ses] = await Promise.all([
      probe("dynamodb", () => Promise.all([pingTable(db, audienceTable), pingTable(db, ledgerTable)])),
      probe("queues", () =>
        Promise.all(
          [fanoutQueueUrl, sendQueueUrl].map((QueueUrl) =>
            sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] })),
          ),
        ),
      ),
      probe("ses", () => sesClient.send(new GetAccountCommand({}))),
    ]);
    return { dynamodb, queues, ses };
  },
};
const authenticator = new Authenticator(apiKeys, adminKeyHash);

/** A health check answers within Route 53's 4-second limit whatever its dependencies do. */
const PROBE_TIMEOUT_MS = 2_000;

/** Whether `check` succeeds within the time a health check has; a failure is logged by name. */
async function probe(name: string, check: () => Promise<unknown>): Promise<boolean> {
  try {
    if (await within(check(), PROBE_TIMEOUT_MS)) return true;
    logger.warn("health check failed", { check: name, error: `no answer within ${PROBE_TIMEOUT_MS} ms` });
  } catch (error) {
    logger.warn("health check failed", { check: name, error: (error as Error).name });
  }
  return false;
}

const router = new Router(ROUTES);
// The stacks set both (IntakeApi keyThrottle); the fallbacks are the stacks' defaults.
const rateLimiter = new KeyRateLimiter(
  numberEnv(ENV.apiKeyRateLimit, 20),
  numberEnv(ENV.apiKeyBurstLimit, 40),
);

/** Errors the AWS SDK raises when a dependency is overloaded or unreachable: the client may retry. */
const UNAVAILABLE = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalServerError",
  "TimeoutError",
]);

/** Parses, authenticates, routes (at most once per Idempotency-Key) and maps errors to responses. */
export const handler = traceHandler(async (event: HttpEvent, context?: Context): Promise<HttpResult> => {
  logger.addContext(context as Context);
  const method = event.requestContext?.http?.method ?? "GET";
  const path = event.rawPath ?? "/";
  let matched: Match | undefined;
  try {
    matched = router.match(method, path);
    const { route, params } = matched;
    const principal = route.scope ? await authenticator.authenticate(event, route.scope) : undefined;
    const wait = principal ? rateLimiter.retryAfterSeconds(principal.keyId) : 0;
    if (wait > 0) {
      return {
        ...errorResult(new ApiError(429, "rate_limited", "too many requests for this API key; retry later")),
        headers: { "content-type": "application/json", "retry-after": String(wait) },
      };
    }
    if (route.doc && !route.doc.query) refuseQuery(event);
    const key = method === "POST" && !route.readOnly ? idempotencyKey(event) : undefined;
    if (key === undefined) return await route.handler(event, params, deps, principal);
    return await idempotent(
      idempotency,
      principal?.keyId ?? "public",
      key,
      event,
      () => route.handler(event, params, deps, principal),
      route.replayable,
    );
  } catch (error) {
    const refused = toApiError(error);
    if (refused) return errorResult(refused);
    const name = (error as Error)?.name ?? "Error";
    const code = (error as { code?: string })?.code;
    if (UNAVAILABLE.has(name) || code === "ECONNREFUSED" || code === "ECONNRESET") {
      logger.warn("dependency unavailable", { method, ...where(matched), error: name });
      return {
        ...errorResult(new ApiError(503, "service_unavailable", "try again shortly")),
        headers: { "content-type": "application/json", "retry-after": "5" },
      };
    }
    logger.error("unhandled error", {
      method,
      ...where(matched),
      error: name,
      message: (error as Error)?.message,
    });
    return errorResult(new ApiError(500, "internal_error", "internal error"));
  } finally {
    logger.resetKeys?.();
  }
});

/**
 * Where a request went, for logs: the route template, never the path (it holds addresses and
 * unsubscribe tokens), and a hash of the address a route names, to correlate without the address.
 */
function where(matched: Match | undefined): Record<string, string> {
  if (!matched) return { route: "unmatched" };
  const email = matched.params.email;
  return {
    route: matched.route.path,
    ...(email ? { emailHash: emailHash(email) } : {}),
  };
}

/** A documented route that takes no query parameters refuses them rather than ignoring them. */
function refuseQuery(event: HttpEvent): void {
  const names = Object.keys(event.queryStringParameters ?? {});
  if (names.length === 0) return;
  const details = names
    .slice(0, 20)
    .map((name) => ({ path: `query.${name}`.slice(0, 200), message: "unknown parameter" }));
  throw new ValidationError(`${details[0]?.path}: unknown parameter`, details);
}
