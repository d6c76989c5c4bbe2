import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { AudienceStore } from "../adapters/audience-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { SuppressionStore } from "../adapters/suppression-store.ts";
import { ApiError } from "../domain/errors.ts";
import { requireEnv } from "../shared/env.ts";
import { logger } from "../shared/powertools.ts";
import { Authenticator } from "./auth.ts";
import { errorResult, type HttpEvent, type HttpResult, json } from "./http.ts";
import { type Route, Router } from "./router.ts";
import type { Deps, RouteHandler } from "./context.ts";
import { coreRoutes } from "./routes.ts";
import { controlRoutes } from "./routes-control.ts";
import { deliverabilityRoutes } from "./routes-deliverability.ts";

const db = createDocumentClient();
const sqs = createSqsClient();
const fanoutQueueUrl = requireEnv("FANOUT_QUEUE_URL");
const audience = new AudienceStore(db, requireEnv("AUDIENCE_TABLE"));
const secrets = new SecretsManagerClient({});
const unsubscribeSecretId = requireEnv("UNSUBSCRIBE_SECRET_ID");
let unsubscribeSecret: Promise<string> | undefined;
const deps: Deps = {
  audience,
  ledger: new LedgerStore(db, requireEnv("LEDGER_TABLE")),
  queue: new QueuePublisher(sqs),
  fanoutQueueUrl,
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

/** Every route the API serves, each group in a module of its own. */
export const ROUTES: readonly Route[] = [
  { method: "GET", path: "/health", scope: null, handler: health },
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
    if (route.scope) await authenticator.authenticate(event, route.scope);
    return await route.handler(event, params, deps);
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
