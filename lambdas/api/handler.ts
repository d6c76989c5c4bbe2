import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { AudienceStore } from "../adapters/audience-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { IdempotencyStore } from "../adapters/idempotency-store.ts";
import { ImportStore } from "../adapters/import-store.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { CloudWatchOldestAge, EmulatorOldestAge, QueueAdmin } from "../adapters/queue-admin.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { hashApiKey } from "../domain/api-key.ts";
import { ValidationError } from "../domain/errors.ts";
import { cachedSecret, nonEmpty } from "../shared/cached-secret.ts";
import { requireEnv } from "../shared/env.ts";
import { logger } from "../shared/powertools.ts";
import { Authenticator } from "./auth.ts";
import type { Deps } from "./context.ts";
import { errorResult, type HttpEvent, type HttpResult } from "./http.ts";
import { ApiError, toApiError } from "./http-errors.ts";
import { idempotencyKey, idempotent } from "./idempotency.ts";
import { ROUTES } from "./route-table.ts";
import { Router } from "./router.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const fanoutQueueUrl = requireEnv("FANOUT_QUEUE_URL");
const audienceTable = requireEnv("AUDIENCE_TABLE");
const audience = new AudienceStore(db, audienceTable);
const idempotency = new IdempotencyStore(db, audienceTable);
const deps: Deps = {
  audience,
  imports: new ImportStore(db, audienceTable),
  importQueueUrl: requireEnv("IMPORT_QUEUE_URL"),
  ledger: new LedgerStore(db, requireEnv("LEDGER_TABLE")),
  queue: new QueuePublisher(sqs),
  fanoutQueueUrl,
  queueAdmin: new QueueAdmin(
    sqs,
    [
      { name: "fanout", url: fanoutQueueUrl, dlqUrl: requireEnv("FANOUT_DLQ_URL") },
      { name: "send", url: requireEnv("SEND_QUEUE_URL"), dlqUrl: requireEnv("SEND_DLQ_URL") },
    ],
    process.env.STEADFAST_SQS_INSPECT_URL
      ? new EmulatorOldestAge(process.env.STEADFAST_SQS_INSPECT_URL)
      : new CloudWatchOldestAge(),
  ),
  senderDomain: requireEnv("SENDER_DOMAIN").toLowerCase(),
  defaultFrom: requireEnv("DEFAULT_FROM_ADDRESS"),
  now: () => new Date(),
  suppressions: new SuppressionStore(db, requireEnv("AUDIENCE_TABLE")),
  unsubscribeSecret: cachedSecret(requireEnv("UNSUBSCRIBE_SECRET_ID"), nonEmpty("unsubscribe")),
  checkHealth: async () => {
    await Promise.all([
      audience.ping(),
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: fanoutQueueUrl, AttributeNames: ["QueueArn"] })),
    ]);
  },
};
const authenticator = new Authenticator(
  audience,
  cachedSecret(requireEnv("ADMIN_KEY_SECRET_ID"), (key) => (key ? hashApiKey(key) : undefined)),
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
export const handler = async (event: HttpEvent, context?: Context): Promise<HttpResult> => {
  logger.addContext(context as Context);
  const method = event.requestContext?.http?.method ?? "GET";
  const path = event.rawPath ?? "/";
  try {
    const { route, params } = router.match(method, path);
    const principal = route.scope ? await authenticator.authenticate(event, route.scope) : undefined;
    if (route.doc && !route.doc.query) refuseQuery(event);
    const key = method === "POST" ? idempotencyKey(event) : undefined;
    if (key === undefined) return await route.handler(event, params, deps);
    return await idempotent(idempotency, principal?.keyId ?? "public", key, event, () =>
      route.handler(event, params, deps),
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
};

/** A documented route that takes no query parameters refuses them rather than ignoring them. */
function refuseQuery(event: HttpEvent): void {
  const names = Object.keys(event.queryStringParameters ?? {});
  if (names.length === 0) return;
  const details = names
    .slice(0, 20)
    .map((name) => ({ path: `query.${name}`.slice(0, 200), message: "unknown parameter" }));
  throw new ValidationError(`${details[0]?.path}: unknown parameter`, details);
}
