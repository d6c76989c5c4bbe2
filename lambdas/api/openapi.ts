import { z } from "zod";
import type { Route } from "./router.ts";
import { errorResponseSchema, subscriberSchema } from "./schemas.ts";

type JsonSchema = Record<string, unknown>;

/** JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) of what a client sends or receives. */
function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as JsonSchema;
  return rest;
}

const ERRORS: Record<string, string> = {
  "400": "invalid input; `details` names each field",
  "401": "missing or unknown API key",
  "403": "the API key lacks the scope",
  "404": "no such resource or route",
  "405": "method not allowed on this path",
  "409": "conflict with the resource's state, or an Idempotency-Key reused with another body",
  "413": "body too large",
  "415": "unsupported content type",
  "429":
    "too many requests (the route's throttle, or this API key's rate); retry after the Retry-After header",
  "503": "a dependency is unavailable; retry after the Retry-After header",
};

/**
 * The OpenAPI 3.1 document of every route the API serves, generated from the route table and the
 * zod schemas the handlers validate with.
 */
export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = { $ref: "#/components/schemas/Error" };
  for (const route of routes) {
    const doc = route.doc ?? {};
    const parameters: unknown[] = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (doc.query) {
      const query = schemaOf(doc.query, "input") as {
        properties?: Record<string, JsonSchema>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(query.properties ?? {}))
        parameters.push({ name, in: "query", required: query.required?.includes(name) ?? false, schema });
    }
    if (route.method === "POST" && route.scope !== null) {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description: "the same key and body within 24 h returns the first response; another body → 409",
        schema: { type: "string", minLength: 1, maxLength: 255 },
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(doc.responses ?? { 200: { description: "success" } })) {
      responses[status] = {
        description: response.description,
        ...(response.schema
          ? { content: { "application/json": { schema: schemaOf(response.schema, "output") } } }
          : {}),
      };
    }
    const errorCodes = route.scope === null ? ["400", "404", "405"] : Object.keys(ERRORS);
    for (const status of errorCodes)
      responses[status] ??= {
        description: ERRORS[status],
        content: { "application/json": { schema: errorRef } },
      };
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? "").toUpperCase())}`,
      ...(doc.summary ? { summary: doc.summary } : {}),
      ...(route.scope ? { "x-scope": route.scope } : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(doc.body
        ? {
            requestBody: {
              required: true,
              content: {
                [doc.bodyContentType ?? "application/json"]: { schema: schemaOf(doc.body, "input") },
              },
            },
          }
        : {}),
      responses,
    };
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Steadfast API",
      version: "1.0.0",
      description: "Audiences and campaigns for the Steadfast email pipeline.",
    },
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "Authorization: Bearer <API key>" },
      },
      schemas: {
        Error: schemaOf(errorResponseSchema, "output"),
        SubscriberInput: schemaOf(subscriberSchema, "input"),
      },
    },
  };
}
