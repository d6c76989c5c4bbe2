import { randomUUID } from "node:crypto";
import { generateApiKey, hashApiKey } from "../../domain/api-key.ts";
import { NotFoundError } from "../../domain/errors.ts";
import { ADMIN_KEY_ID } from "../auth.ts";
import type { RouteHandler } from "../context.ts";
import { type HttpResult, json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { apiKeyPageSchema, createApiKeySchema, createdApiKeySchema, pageQuerySchema } from "../schemas.ts";
import { paged, pathId } from "./helpers.ts";

/** Creates a key: 256 random bits, returned once; only its SHA-256 is stored. */
export const createKey: RouteHandler = async (event, _params, deps) => {
  const input = validate(createApiKeySchema, jsonBody(event));
  const secret = generateApiKey();
  const key = {
    id: randomUUID(),
    name: input.name,
    scopes: input.scopes,
    createdAt: deps.now().toISOString(),
  };
  await deps.apiKeys.create(key, hashApiKey(secret));
  return json(201, { ...key, key: secret });
};

/**
 * What a replay of a key creation (same Idempotency-Key) answers: the key's metadata, never the
 * secret, which is not persisted anywhere but as its hash. The `idempotent-replay: secret-withheld`
 * header says so; a client that lost the first answer revokes the key and creates another.
 */
export function withoutSecret(result: HttpResult): HttpResult {
  const { key: _secret, ...metadata } = JSON.parse(String(result.body)) as Record<string, unknown>;
  return {
    ...result,
    headers: { ...result.headers, "idempotent-replay": "secret-withheld" },
    body: JSON.stringify(metadata),
  };
}

export const listKeys: RouteHandler = async (event, _params, deps) => {
  const query = validate(pageQuerySchema, event.queryStringParameters ?? {}, "query");
  return json(200, await paged(() => deps.apiKeys.page(query.limit, query.cursor)));
};

/**
 * Revokes at once: the next request with the key is refused (keys are looked up on every request).
 * `admin` is the bootstrap key from Secrets Manager: its revocation is recorded under its hash.
 */
export const revokeKey: RouteHandler = async (_event, params, deps) => {
  if (params.id === ADMIN_KEY_ID) {
    const hash = await deps.adminKeyHash();
    const at = deps.now().toISOString();
    if (!hash || !(await deps.apiKeys.revokeExternal(ADMIN_KEY_ID, hash, at))) {
      throw new NotFoundError("API key");
    }
    return { statusCode: 204, headers: { "cache-control": "no-store" } };
  }
  const id = pathId(params, "id", "API key");
  if (!(await deps.apiKeys.revoke(id))) throw new NotFoundError("API key");
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
};

export const docs = {
  createKey: {
    summary: "Create an API key (the secret is shown only in this response)",
    body: createApiKeySchema,
    responses: {
      201: {
        description:
          "created. A replay (same Idempotency-Key and body) answers the key's metadata without " +
          "`key` and with the header `idempotent-replay: secret-withheld`: the secret is never stored",
        schema: createdApiKeySchema,
      },
    },
  },
  listKeys: {
    summary: "API keys (never their secrets)",
    query: pageQuerySchema,
    responses: { 200: { description: "a page", schema: apiKeyPageSchema } },
  },
  revokeKey: {
    summary:
      "Revoke an API key at once; `admin` revokes the bootstrap admin key (the Secrets Manager " +
      "one) until that secret gets a new value",
    responses: { 204: { description: "revoked" } },
  },
} satisfies Record<string, RouteDoc>;
