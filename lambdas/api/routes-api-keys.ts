import { randomUUID } from "node:crypto";
import { generateApiKey, hashApiKey } from "../domain/api-key.ts";
import { NotFoundError } from "../domain/errors.ts";
import type { RouteHandler } from "./context.ts";
import { json, jsonBody, validate } from "./http.ts";
import type { Route } from "./router.ts";
import { paged, pathId } from "./route-helpers.ts";
import { apiKeyPageSchema, createApiKeySchema, createdApiKeySchema, pageQuerySchema } from "./schemas.ts";

/** Creates a key: 256 random bits, returned once; only its SHA-256 is stored. */
const createKey: RouteHandler = async (event, _params, deps) => {
  const input = validate(createApiKeySchema, jsonBody(event));
  const secret = generateApiKey();
  const key = {
    id: randomUUID(),
    name: input.name,
    scopes: input.scopes,
    createdAt: deps.now().toISOString(),
  };
  await deps.audience.createApiKey(key, hashApiKey(secret));
  return json(201, { ...key, key: secret });
};

const listKeys: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.audience.pageApiKeys(query.limit, query.cursor)));
};

/** Revokes at once: the next request with the key is refused (keys are looked up on every request). */
const revokeKey: RouteHandler = async (_event, params, deps) => {
  const id = pathId(params, "id", "API key");
  if (!(await deps.audience.revokeApiKey(id))) throw new NotFoundError("API key");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

export const apiKeyRoutes: readonly Route[] = [
  {
    method: "POST",
    path: "/v1/api-keys",
    scope: "admin",
    handler: createKey,
    doc: {
      summary: "Create an API key (the secret is shown only in this response)",
      body: createApiKeySchema,
      responses: { 201: { description: "created", schema: createdApiKeySchema } },
    },
  },
  {
    method: "GET",
    path: "/v1/api-keys",
    scope: "admin",
    handler: listKeys,
    doc: {
      summary: "API keys (never their secrets)",
      query: pageQuerySchema,
      responses: { 200: { description: "a page", schema: apiKeyPageSchema } },
    },
  },
  {
    method: "DELETE",
    path: "/v1/api-keys/{id}",
    scope: "admin",
    handler: revokeKey,
    doc: { summary: "Revoke an API key at once", responses: { 204: { description: "revoked" } } },
  },
];
