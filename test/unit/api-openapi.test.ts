import { beforeAll, describe, expect, it } from "vitest";
import type { Route } from "../../lambdas/api/router.ts";

// Loaded after the environment is set, as in a function container; no request is made in these tests.
let ROUTES: readonly Route[];
let openApiDocument: (routes: readonly Route[]) => Record<string, unknown>;

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AUDIENCE_TABLE: "audience",
    LEDGER_TABLE: "ledger",
    FANOUT_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/fanout",
    AUDIENCE_JOBS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/import",
    SEND_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/send",
    FANOUT_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/fanout-dlq",
    SEND_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/send-dlq",
    SENDER_DOMAIN: "example.com",
    DEFAULT_FROM_ADDRESS: "news@example.com",
    ADMIN_KEY_SECRET_ID: "steadfast/admin-api-key",
    UNSUBSCRIBE_SECRET_ID: "steadfast/unsubscribe-key",
  });
  ({ ROUTES } = await import("../../lambdas/api/route-table.ts"));
  ({ openApiDocument } = await import("../../lambdas/api/openapi.ts"));
});

type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  security?: unknown[];
};

describe("the OpenAPI document", () => {
  it("has exactly the routes the API serves", () => {
    const doc = openApiDocument(ROUTES) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = ROUTES.map((route) => `${route.method} ${route.path}`);
    expect(new Set(served).size).toBe(served.length);
    expect(documented.sort()).toEqual([...served].sort());
  });

  it("documents a route that has no schemas yet (another module's), with its path parameters", () => {
    const extra: Route = {
      method: "POST",
      path: "/v1/campaigns/{id}/pause",
      scope: "write",
      handler: async () => ({}),
    };
    const doc = openApiDocument([...ROUTES, extra]) as { paths: Record<string, Record<string, Operation>> };
    const op = doc.paths["/v1/campaigns/{id}/pause"]?.post;
    expect(op?.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id", "header:Idempotency-Key"]);
    expect(Object.keys(op?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "400", "401", "403", "404"]),
    );
  });

  it("describes bodies, queries and public routes from the route schemas", () => {
    const doc = openApiDocument(ROUTES) as { paths: Record<string, Record<string, Operation>> };
    const create = doc.paths["/v1/campaigns"]?.post;
    const body = create?.requestBody?.content["application/json"]?.schema as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(body.properties).sort()).toEqual(
      [
        "excludeListIds",
        "excludeSegmentIds",
        "from",
        "html",
        "listId",
        "replyTo",
        "scheduledAt",
        "segmentId",
        "subject",
        "templateId",
        "templateVersion",
        "text",
      ].sort(),
    );
    // subject and html, or a template: the choice is checked past the schema (a 400 naming the field).
    expect(body.required.sort()).toEqual(["listId"]);
    expect(body.additionalProperties).toBe(false);
    expect(Object.keys(doc.paths["/v1/lists/{listId}/imports"]?.post?.requestBody?.content ?? {})).toEqual([
      "text/csv",
    ]);
    const query = doc.paths["/v1/campaigns"]?.get?.parameters
      ?.filter((p) => p.in === "query")
      .map((p) => p.name);
    expect(query?.sort()).toEqual(["cursor", "limit", "status"]);
    expect(doc.paths["/health"]?.get?.security).toEqual([]);
    for (const route of ROUTES) expect(route.doc, `${route.method} ${route.path}`).toBeDefined();
  });
});
