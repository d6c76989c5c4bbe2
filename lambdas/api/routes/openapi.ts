import type { RouteHandler } from "../context.ts";
import { openApiDocument } from "../openapi.ts";
import type { Route, RouteDoc } from "../router.ts";

/**
 * GET /v1/openapi.json: the document of the route table, generated from the routes and their
 * schemas on the first request, once per container. The table is passed lazily because this route
 * is one of its own entries.
 */
export function serveOpenApi(routes: () => readonly Route[]): RouteHandler {
  let document: string | undefined;
  return async () => {
    document ??= JSON.stringify(openApiDocument(routes()));
    return { statusCode: 200, headers: { "content-type": "application/json" }, body: document };
  };
}

export const docs = {
  serveOpenApi: {
    summary: "This document (OpenAPI 3.1)",
    responses: { 200: { description: "the document" } },
  },
} satisfies Record<string, RouteDoc>;
