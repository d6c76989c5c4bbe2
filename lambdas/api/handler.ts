import { createHash } from "node:crypto";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
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
import { ApiError, ConflictError, ValidationError } from "../domain/errors.ts";
import { requireEnv } from "../shared/env.ts";
import { logger } from "../shared/powertools.ts";
import { Authenticator } from "./auth.ts";
import { errorResult, header, type HttpEvent, type HttpResult, json } from "./http.ts";
import { openApiDocument } from "./openapi.ts";
import { type Route, Router } from "./router.ts";
import type { Deps, RouteHandler } from "./context.ts";
import { coreRoutes } from "./routes.ts";
import { controlRoutes } from "./routes-control.ts";
import { deliverabilityRoutes } from "./routes-deliverability.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const fanoutQueueUrl = requireEnv("FANOUT_QUEUE_URL");
const audienceTable = requireEnv("AUDIENCE_TABLE");
const audience = new AudienceStore(db, audienceTable);
const idempotency = new IdempotencyStore(db, audienceTable);
const secrets = new SecretsManagerClient({});
const unsubscribeSecretId = requireEnv("UNSUBSCRIBE_SECRET_ID");
let unsubscribeSecret: Promise<string> | undefined;
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
  unsubscribeSecret: () =>
    (unsubscribeSecret ??= secrets
      .send(new GetSecretValueCommand({ SecretId: unsubscribeSecretId }))
      .then((out) => {
        if (!out.SecretString) throw new Error("the unsubscribe secret is empty");
        return out.SecretString;
      })
      .catch((error: unknown) => {
        // Try again on the next request rather than caching a transient failure.
        unsubscribeSecret = undefined;
        throw error;
      })),
};
const authenticator = new Authenticator(audience, secrets, requireEnv("ADMIN_KEY_SECRET_ID"));

/** GET /health: 200 when the tables and the queue answer, 503 otherwise. No key needed. */
const health: RouteHandler = async () => {
  try {
    await Promise.all([
      audience.ping(),
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: fanoutQueueUrl, AttributeNames: ["QueueArn"] })),
    ]);
    return json(200, { status: "ok" });
  } catch (error) {
    logger.warn("health check failed", { error: (error as Error).name });
    return json(503, { status: "unavailable" });
  }
};

let document: string | undefined;
/** GET /v1/openapi.json: generated from ROUTES and their schemas, once per container. */
const openApi: RouteHandler = async () => {
  document ??= JSON.stringify(openApiDocument(ROUTES));
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: document };
};

/** Every route the API serves, each group in a module of its own. */
export const ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: "/health",
    scope: null,
    handler: health,
    doc: {
      summary: "Health of the tables and the queue (no key needed)",
      responses: { 200: { description: "ok" }, 503: { description: "a dependency is unavailable" } },
    },
  },
  {
    method: "GET",
    path: "/v1/openapi.json",
    scope: "read",
    handler: openApi,
    doc: { summary: "This document (OpenAPI 3.1)", responses: { 200: { description: "the document" } } },
  },
  ...coreRoutes,
  ...controlRoutes,
  ...deliverabilityRoutes,
];

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
    return await idempotent(principal?.keyId ?? "public", key, event, () =>
      route.handler(event, params, deps),
    );
  } catch (error) {
    if (error instanceof ApiError) {
      return errorResult(error);
    }
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

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKey(event: HttpEvent): string | undefined {
  const key = header(event, "idempotency-key");
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    const message = "must be 1 to 255 visible ASCII characters";
    throw new ValidationError(`header.idempotency-key: ${message}`, [
      { path: "header.idempotency-key", message },
    ]);
  }
  return key;
}

/**
 * Runs a POST at most once per (API key, Idempotency-Key) for 24 hours: a repeat with the same
 * method, path and body gets the first response; another request under the same key is a 409.
 * Only successful responses are kept: a refused request leaves no record, so a corrected retry works.
 */
async function idempotent(
  scope: string,
  key: string,
  event: HttpEvent,
  run: () => Promise<HttpResult>,
): Promise<HttpResult> {
  const body = event.isBase64Encoded
    ? Buffer.from(event.body ?? "", "base64")
    : Buffer.from(event.body ?? "", "utf8");
  const requestHash = createHash("sha256")
    .update(
      `${event.requestContext?.http?.method} ${event.rawPath}\n${header(event, "content-type") ?? ""}\n`,
    )
    .update(body)
    .digest("hex");
  const begun = await idempotency.begin(scope, key, requestHash, Date.now());
  if (begun.kind === "mismatch") {
    throw new ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used with another request");
  }
  if (begun.kind === "in_progress") {
    throw new ConflictError("a request with this Idempotency-Key is still in progress; retry shortly");
  }
  if (begun.kind === "replay") {
    return { ...begun.response, headers: { ...begun.response.headers, "idempotent-replayed": "true" } };
  }
  let result: HttpResult;
  try {
    result = await run();
  } catch (error) {
    await idempotency.abandon(scope, key);
    throw error;
  }
  const status = result.statusCode ?? 200;
  if (status >= 200 && status < 300) {
    await idempotency.complete(scope, key, {
      statusCode: status,
      headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)])),
      body: typeof result.body === "string" ? result.body : "",
    });
  } else {
    await idempotency.abandon(scope, key);
  }
  return result;
}
