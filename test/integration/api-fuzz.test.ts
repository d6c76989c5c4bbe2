import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SteadfastClient } from "../../local/client.ts";
import { type LocalRuntime, localDocumentClient, startLocalRuntime } from "../../local/runtime.ts";

/**
 * Property-based robustness of the API on the running local runtime: generated malformed bodies,
 * headers, queries and paths, thrown at every operation of the OpenAPI document the API serves.
 * Every answer is below 500, every error has the documented shape, and the audience table is
 * exactly as it was before.
 */
const RUNS = 280;
const BATCH = 8; // requests in flight at once; RUNS × BATCH requests in all

let runtime: LocalRuntime;
let api: SteadfastClient;
let db: DynamoDBDocumentClient;
let readKey: string;
const real: Record<string, string> = {};
let operations: { method: string; path: string; body: boolean; scope: string | undefined }[] = [];

beforeAll(async () => {
  runtime = await startLocalRuntime({ writeInfo: false });
  api = new SteadfastClient(runtime.info.apiUrl, runtime.info.apiKey);
  db = localDocumentClient(runtime);
  // Real resources, so that malformed requests also reach the deeper checks of each route.
  const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", { name: "Fuzz" });
  await api.expect(200, "PUT", `/v1/lists/${list.id}/subscribers`, {
    subscribers: [{ email: "fuzz@example.com", attributes: { firstName: "F" } }],
  });
  const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
    listId: list.id,
    subject: "Fuzz",
    html: "<p>Fuzz</p>",
  });
  readKey = (
    await api.expect<{ key: string }>(201, "POST", "/v1/api-keys", { name: "fuzz", scopes: ["read"] })
  ).key;
  Object.assign(real, { listId: list.id, id: campaign.id, email: "fuzz@example.com" });
  const doc = await api.expect<{
    paths: Record<string, Record<string, { requestBody?: unknown; "x-scope"?: string }>>;
  }>(200, "GET", "/v1/openapi.json");
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      body: op.requestBody !== undefined,
      scope: op["x-scope"],
    })),
  );
});

afterAll(async () => {
  await runtime?.stop();
});

async function snapshot(): Promise<string> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new ScanCommand({ TableName: "steadfast-audience", ExclusiveStartKey: start, ConsistentRead: true }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  const key = (item: Record<string, unknown>) => `${String(item.pk)}\u0000${String(item.sk)}`;
  return JSON.stringify(items.sort((a, b) => key(a).localeCompare(key(b))));
}

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Why the request must be refused (or, for reads, leave everything as it was). */
  readonly kind: string;
}

const visible = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-_.~!$&'()*+,;=:@%/ ?#[]{}\"\\<>|^`é€\u0000\t"),
});
// Header values a client can send (RFC 9110 field-value; fetch refuses control characters and an
// empty Authorization, and obs-text is deprecated).
const headerValue = fc
  .string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 80,
  })
  .filter((v) => v.trim() === v && v !== "");
const randomId = fc.oneof(
  fc.uuid(),
  visible.map((s) => encodeURIComponent(s).slice(0, 300)),
  fc.constantFrom("%", "%zz", "%E0%A4%A", "..", "%2F", "a".repeat(2000), "0", "-", "null"),
);
/** A JSON body no route accepts: an object with a field no schema knows, or not an object at all. */
const invalidJson = fc.oneof(
  fc
    .dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
    .map((o) => JSON.stringify({ ...o, "unknown field \u2603": true })),
  fc
    .jsonValue({ maxDepth: 3 })
    .filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }).map((s) => `{${s}`),
  fc.constantFrom("", "{", "[", "nul", '{"a":', "\u0000", '{"name":"x"}}'),
);
/** CSV text without an email column: always refused. */
const invalidCsv = fc
  .array(fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 4 }), { maxLength: 5 })
  .map((rows) => rows.map((r) => r.join(",")).join("\n"))
  .filter((text) => !/(^|[,"\s])email/i.test(text.split("\n")[0] ?? ""));
const badQuery = fc.oneof(
  fc.constantFrom(
    "limit=0",
    "limit=1001",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "cursor=%%%",
    "cursor=e30",
    "status=nope",
  ),
  fc
    .tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.string({ maxLength: 10 }))
    .map(([k, v]) => `zz${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
);

function requestArbitrary(): fc.Arbitrary<FuzzRequest> {
  const op = fc.constantFrom(...operations);
  const adminAuth = { authorization: `Bearer ${runtime.info.apiKey}` };
  // Fill a path template: real ids only where a malformed body guarantees a refusal, or for reads.
  const fill = (path: string, useReal: boolean) =>
    fc.tuple(...[...path.matchAll(/\{(\w+)\}/g)].map(() => randomId)).map((ids) => {
      let i = 0;
      return path.replace(/\{(\w+)\}/g, (_m, name: string) => {
        const id = ids[i++] as string;
        return useReal && real[name] ? encodeURIComponent(real[name]) : id;
      });
    });

  const withoutKey = fc
    .tuple(op, fc.option(headerValue), invalidJson)
    .filter(([o]) => o.scope !== undefined)
    .chain(([o, auth, body]) =>
      fill(o.path, true).map((path) => ({
        method: o.method,
        path,
        headers: { ...(auth === null ? {} : { authorization: auth }), "content-type": "application/json" },
        body: o.method === "GET" ? undefined : body,
        kind: "no or unknown key",
      })),
    );
  const readOnlyKey = op
    .filter((o) => o.scope === "write" || o.scope === "admin")
    .chain((o) =>
      fill(o.path, true).map((path) => ({
        method: o.method,
        path,
        headers: { authorization: `Bearer ${readKey}`, "content-type": "application/json" },
        body: o.method === "GET" ? undefined : '{"name":"x"}',
        kind: "read-only key",
      })),
    );
  const badBody = fc
    .tuple(
      op.filter((o) => o.body),
      fc.boolean(),
      invalidJson,
      invalidCsv,
      fc.constantFrom(
        "application/json",
        "text/csv",
        "text/plain",
        "application/xml",
        "",
        "application/json; charset=utf-8",
      ),
      fc.option(headerValue),
    )
    .chain(([o, useReal, json, csv, contentType, idempotencyKey]) =>
      fill(o.path, useReal).map((path) => ({
        method: o.method,
        path,
        headers: {
          ...adminAuth,
          ...(contentType ? { "content-type": contentType } : {}),
          ...(idempotencyKey === null ? {} : { "idempotency-key": idempotencyKey }),
        },
        body: contentType === "text/csv" ? csv : json,
        kind: "malformed body",
      })),
    );
  const noBodyRoutes = fc
    .tuple(
      op.filter((o) => !o.body),
      fc.option(badQuery),
    )
    .chain(([o, query]) =>
      fill(o.path, o.method === "GET").map((path) => ({
        method: o.method,
        path: query === null ? path : `${path}?${query}`,
        headers: adminAuth,
        kind: o.method === "GET" ? "read" : "unknown id",
      })),
    );
  const randomPath = fc
    .tuple(
      fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
      fc.array(randomId, { minLength: 0, maxLength: 5 }),
      fc.constantFrom("/v1/", "/", "/v1/lists/", "/v1/campaigns/", "/v2/", "//"),
    )
    .map(([method, segments, prefix]) => ({
      method,
      path: `${prefix}${segments.join("/")}`,
      headers: { ...adminAuth, "content-type": "application/json" },
      body: method === "GET" || method === "HEAD" ? undefined : '{"\u0000":1}',
      kind: "random path",
    }));
  return fc.oneof(withoutKey, readOnlyKey, badBody, noBodyRoutes, randomPath);
}

let sent = 0;
async function fire(request: FuzzRequest): Promise<void> {
  sent++;
  const response = await fetch(`${runtime.info.apiUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
    // A hung request fails the property with its description instead of hanging the suite.
    signal: AbortSignal.timeout(20_000),
  }).catch((error: unknown) => {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? "";
    throw new Error(
      `${request.kind}: ${request.method} ${request.path} ${JSON.stringify(request.headers)}: ${(error as Error).message} ${cause}`,
    );
  });
  const text = await response.text();
  const where = `${request.kind}: ${request.method} ${request.path} → ${response.status} ${text.slice(0, 300)}`;
  expect(response.status, where).toBeLessThan(500);
  const isRead = request.method === "GET" || request.method === "HEAD" || request.path.endsWith("/preview");
  if (!isRead) expect(response.status, where).toBeGreaterThanOrEqual(400);
  if (response.status >= 400 && request.method !== "HEAD") {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    expect(typeof body.error?.code, where).toBe("string");
    expect(typeof body.error?.message, where).toBe("string");
    if (body.error?.details !== undefined) {
      expect(Array.isArray(body.error.details), where).toBe(true);
      for (const detail of body.error.details as { path?: unknown; message?: unknown }[]) {
        expect([typeof detail.path, typeof detail.message], where).toEqual(["string", "string"]);
      }
    }
  }
}

describe("the API under generated malformed requests", () => {
  it(`answers ${RUNS * BATCH} of them without a 5xx, with the error shape, writing nothing`, async () => {
    expect(operations.length).toBeGreaterThanOrEqual(25);
    const before = await snapshot();
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArbitrary(), { minLength: BATCH, maxLength: BATCH }),
        async (batch) => {
          await Promise.all(batch.map(fire));
        },
      ),
      { numRuns: RUNS },
    );
    const seconds = (Date.now() - started) / 1000;
    console.info(`api-fuzz: ${sent} generated requests in ${seconds.toFixed(1)} s`);
    expect(sent).toBeGreaterThanOrEqual(2000);
    expect(await snapshot()).toBe(before);
  });
});
