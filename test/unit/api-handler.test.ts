import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { HttpEvent, HttpResult } from "../../lambdas/api/http.ts";

const db = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
mockClient(SQSClient);
const ADMIN_KEY = `sf_${"a".repeat(43)}`;
let handler: (event: HttpEvent, context?: Context) => Promise<HttpResult>;

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    STEADFAST_HOME_REGION: "us-east-1",
    OWNER_LEASE_SECONDS: "90",
    AUDIENCE_TABLE: "audience",
    LEDGER_TABLE: "ledger",
    FANOUT_QUEUE_URL: "https://sqs.local/fanout",
    FANOUT_DLQ_URL: "https://sqs.local/fanout-dlq",
    SEND_QUEUE_URL: "https://sqs.local/send",
    SEND_DLQ_URL: "https://sqs.local/send-dlq",
    AUDIENCE_JOBS_QUEUE_URL: "https://sqs.local/audience-jobs",
    ADMIN_KEY_SECRET_ID: "admin-key",
    UNSUBSCRIBE_SECRET_ID: "unsubscribe-key",
    SENDER_DOMAIN: "example.com",
    DEFAULT_FROM_ADDRESS: "news@example.com",
    // The logger writes through the global console, where the test captures it, at its deployed level.
    POWERTOOLS_DEV: "true",
    POWERTOOLS_LOG_LEVEL: "INFO",
    // Small, so that a few requests reach the per-key limit.
    API_KEY_RATE_LIMIT: "0.5",
    API_KEY_BURST_LIMIT: "3",
  });
  ({ handler } = await import("../../lambdas/api/handler.ts"));
});

beforeEach(() => {
  db.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: "admin-key" }).resolves({ SecretString: ADMIN_KEY });
});

afterEach(() => {
  vi.restoreAllMocks();
});

function request(method: string, path: string, body?: string): HttpEvent {
  return {
    rawPath: path,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
    },
    requestContext: { http: { method } },
    ...(body ? { body, isBase64Encoded: false } : {}),
  } as unknown as HttpEvent;
}

const context = {
  functionName: "api",
  functionVersion: "1",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:api",
  memoryLimitInMB: "512",
  awsRequestId: "req",
} as unknown as Context;

function unavailable(): Error {
  return Object.assign(new Error("down"), { name: "ServiceUnavailable" });
}

/** Everything the function logs while `run` runs. */
async function output(run: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const capture = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation(capture);
  }
  try {
    await run();
  } finally {
    vi.restoreAllMocks();
  }
  return lines.join("\n");
}

describe("api function logs", () => {
  it("names the route template and a hash of the address, never the address", async () => {
    db.on(GetCommand).rejects(unavailable());
    const email = "ana.logged@example.com";
    let result: HttpResult | undefined;
    const logged = await output(async () => {
      result = await handler(
        request(
          "GET",
          `/v1/lists/00000000-0000-4000-8000-000000000000/subscribers/${encodeURIComponent(email)}`,
        ),
        context,
      );
    });
    expect(result?.statusCode).toBe(503);
    expect(logged).toContain("dependency unavailable");
    expect(logged).toContain("/v1/lists/{listId}/subscribers/{email}");
    expect(logged).toContain("emailHash");
    expect(logged).not.toContain("ana.logged");
    expect(logged).not.toContain("ana%2Elogged");
  });

  it("never logs an unsubscribe token", async () => {
    secrets.on(GetSecretValueCommand, { SecretId: "unsubscribe-key" }).rejects(unavailable());
    const token = "tok3nThatMustNotBeLogged";
    let result: HttpResult | undefined;
    const logged = await output(async () => {
      result = await handler(request("POST", `/u/${token}`, "List-Unsubscribe=One-Click"), context);
    });
    expect(result?.statusCode).toBe(503);
    expect(logged).toContain("/u/{token}");
    expect(logged).not.toContain(token);
  });
});

describe("per-key rate limit", () => {
  it("answers 429 with Retry-After once a key has used its burst, and lets it go on at the rate", async () => {
    vi.useFakeTimers({ now: Date.now(), toFake: ["Date"] });
    try {
      db.on(GetCommand).resolves({});
      db.on(QueryCommand).resolves({ Items: [] });
      const statuses: (number | undefined)[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await handler(request("GET", "/v1/api-keys"), context)).statusCode);
      expect(statuses).toEqual([200, 200, 200]);
      const limited = await handler(request("GET", "/v1/api-keys"), context);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers?.["retry-after"]).toBe("2");
      expect(JSON.parse(String(limited.body))).toMatchObject({ error: { code: "rate_limited" } });
      // Nothing behind the limit ran: no query for the refused request.
      expect(db.commandCalls(QueryCommand)).toHaveLength(3);
      vi.setSystemTime(Date.now() + 2000);
      expect((await handler(request("GET", "/v1/api-keys"), context)).statusCode).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });
});
