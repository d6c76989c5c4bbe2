import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { ApiKeyStore } from "../adapters/api-key-store.ts";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { IdempotencyStore } from "../adapters/idempotency-store.ts";
import { pingTable } from "../adapters/dynamo/health.ts";
import { ImportStore } from "../adapters/import-store.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { ListStore } from "../adapters/list-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { CloudWatchOldestAge, EmulatorOldestAge, QueueAdmin } from "../adapters/queue-admin.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { ENV } from "../contracts/env.ts";
import { hashApiKey } from "../domain/api-key.ts";
import { ValidationError } from "../domain/errors.ts";
import { cachedSecret, nonEmpty } from "../adapters/cached-secret.ts";
import { requireEnv } from "../shared/env.ts";
import { logger, traceHandler } from "../shared/powertools.ts";
import { Authenticator } from "./auth.ts";
import type { Deps } from "./context.ts";
import { errorResult, type HttpEvent, type HttpResult } from "./http.ts";
import { ApiError, toApiError } from "./http-errors.ts";
import { idempotencyKey, idempotent } from "./idempotency.ts";
import { ROUTES } from "./route-table.ts";
import { Router } from "./router.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const fanoutQueueUrl = requireEnv(ENV.fanoutQueueUrl);
const audienceTable = requireEnv(ENV.audienceTable);
const apiKeys = new ApiKeyStore(db, audienceTable);
/** Set by the local runtime only: queue ages come from the emulator there, from CloudWatch on AWS. */
const sqsInspectUrl = process.env[ENV.sqsInspectUrl];
const idempotency = new IdempotencyStore(db, audienceTable);
const deps: Deps = {
  lists: new ListStore(db, audienceTable),
  subscribers: new SubscriberStore(db, audienceTable),
  campaigns: new CampaignStore(db, audienceTable),
  agenda: new CampaignAgendaStore(db, audienceTable),
  apiKeys,
  imports: new ImportStore(db, audienceTable),
  audienceJobsQueueUrl: requireEnv(ENV.audienceJobsQueueUrl),
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable)),
  queue: new QueuePublisher(sqs),
  fanoutQueueUrl,
  queueAdmin: new QueueAdmin(
    sqs,
    [
      { name: "fanout", url: fanoutQueueUrl, dlqUrl: requireEnv(ENV.fanoutDlqUrl) },
      { name: "send", url: requireEnv(ENV.sendQueueUrl), dlqUrl: requireEnv(ENV.sendDlqUrl) },
    ],
    sqsInspectUrl ? new EmulatorOldestAge(sqsInspectUrl) : new CloudWatchOldestAge(),
  ),
  senderDomain: requireEnv(ENV.senderDomain).toLowerCase(),
  defaultFrom: requireEnv(ENV.defaultFromAddress),
  now: () => new Date(),
  suppressions: new SuppressionStore(db, audienceTable),
  unsubscribeSecret: cachedSecret(requireEnv(ENV.unsubscribeSecretId), nonEmpty("unsubscribe")),
  checkHealth: async () => {
    await Promise.all([
      pingTable(db, audienceTable),
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: fanoutQueueUrl, AttributeNames: ["QueueArn"] })),
    ]);
  },
};
const authenticator = new Authenticator(
  apiKeys,
  cachedSecret(requireEnv(ENV.adminKeySecretId), (key) => (key ? hashApiKey(key) : undefined)),
);

const router = new Router(ROUTES);

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
  try {
    const { route, params } = router.match(method, path);
    const principal = route.scope ? await authenticator.authenticate(event, route.scope) : undefined;
    if (route.doc && !route.doc.query) refuseQuery(event);
    const key = method === "POST" ? idempotencyKey(event) : undefined;
    if (key === undefined) return await route.handler(event, params, deps, principal);
    return await idempotent(idempotency, principal?.keyId ?? "public", key, event, () =>
      route.handler(event, params, deps, principal),
    );
  } catch (error) {
    const refused = toApiError(error);
    if (refused) return errorResult(refused);
    const name = (error as Error)?.name ?? "Error";
    const code = (error as { code?: string })?.code;
    if (UNAVAILABLE.has(name) || code === "ECONNREFUSED" || code === "ECONNRESET") {
      logger.warn("dependency unavailable", { method, path, error: name });
      return {
        ...errorResult(new ApiError(503, "service_unavailable", "try again shortly")),
        headers: { "content-type": "application/json", "retry-after": "5" },
      };
    }
    logger.error("unhandled error", { method, path, error: name, message: (error as Error)?.message });
    return errorResult(new ApiError(500, "internal_error", "internal error"));
  } finally {
    logger.resetKeys?.();
  }
});

/** A documented route that takes no query parameters refuses them rather than ignoring them. */
function refuseQuery(event: HttpEvent): void {
  const names = Object.keys(event.queryStringParameters ?? {});
  if (names.length === 0) return;
  const details = names
    .slice(0, 20)
    .map((name) => ({ path: `query.${name}`.slice(0, 200), message: "unknown parameter" }));
  throw new ValidationError(`${details[0]?.path}: unknown parameter`, details);
}
