import { randomUUID } from "node:crypto";
import http from "node:http";
import { within } from "../lambdas/shared/concurrency.ts";
import type { FunctionPool } from "./function-pool.ts";
import { LOCAL_ACCOUNT } from "./local-account.ts";

/**
 * How long an HTTP API waits for its integration, a function's start included. A function that
 * times out sooner (IntakeApi keeps every timeout under it) is a function error: 500.
 */
const INTEGRATION_TIMEOUT_MS = 30_000;
/** API Gateway HTTP API's payload limit. */
const MAX_PAYLOAD = 10 * 1024 * 1024;
const TEXT_TYPES = /^(text\/|application\/(json|[\w.+-]+\+json|x-www-form-urlencoded|xml|javascript))/i;

/**
 * An HTTP API `$default` route with a Lambda proxy integration (payload format 2.0), served on
 * loopback: requests become v2 events, results become responses, as API Gateway maps them.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 */
export async function serveHttpApi(
  pool: FunctionPool,
  port: number,
  apiId: string,
  integrationTimeoutMs = INTEGRATION_TIMEOUT_MS,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_PAYLOAD) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > MAX_PAYLOAD) {
        send(
          res,
          413,
          { "content-type": "application/json" },
          JSON.stringify({ message: "Request Entity Too Large" }),
        );
        return;
      }
      handle(pool, apiId, req, Buffer.concat(chunks), integrationTimeoutMs).then(
        (out) => send(res, out.status, out.headers, out.body, out.cookies),
        () =>
          send(
            res,
            500,
            { "content-type": "application/json" },
            JSON.stringify({ message: "Internal Server Error" }),
          ),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return server;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  cookies?: string[];
}

async function handle(
  pool: FunctionPool,
  apiId: string,
  req: http.IncomingMessage,
  body: Buffer,
  integrationTimeoutMs: number,
): Promise<Reply> {
  // Prefix the origin rather than resolve against it: a path like "//x" would otherwise be read as
  // a protocol-relative URL (host "x") or fail to parse, where API Gateway passes it on as a path.
  const url = new URL(`http://localhost${req.url?.startsWith("/") ? req.url : "/"}`);
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined && key !== "cookie")
      headers[key] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const isText = TEXT_TYPES.test(headers["content-type"] ?? "");
  const now = new Date();
  const event = {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId,
      domainName: headers.host ?? "localhost",
      domainPrefix: apiId,
      http: {
        method: req.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0
      ? { body: isText ? body.toString("utf8") : body.toString("base64"), isBase64Encoded: !isText }
      : { isBase64Encoded: false }),
  };
  const invocation = pool.invoke(event);
  let result: unknown;
  try {
    // Past its integration timeout the HTTP API answers 503 and the invocation runs on unheard.
    if (!(await within(invocation, integrationTimeoutMs))) {
      return {
        status: 503,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "Service Unavailable" }),
      };
    }
    result = await invocation;
  } catch {
    // A function that failed, crashed or timed out (within the integration timeout): 500.
    return {
      status: 500,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "Internal Server Error" }),
    };
  }
  return toReply(result);
}

/** Payload 2.0 response mapping, including the inferred format for results without a statusCode. */
function toReply(result: unknown): Reply {
  if (result && typeof result === "object" && "statusCode" in result) {
    const r = result as {
      statusCode: number;
      headers?: Record<string, unknown>;
      body?: string;
      isBase64Encoded?: boolean;
      cookies?: string[];
    };
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const body = r.body === undefined ? "" : r.isBase64Encoded ? Buffer.from(r.body, "base64") : r.body;
    return { status: r.statusCode, headers, body, ...(r.cookies ? { cookies: r.cookies } : {}) };
  }
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: typeof result === "string" ? result : JSON.stringify(result),
  };
}

function send(
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: Buffer | string,
  cookies?: string[],
) {
  res.writeHead(status, { ...headers, ...(cookies?.length ? { "set-cookie": cookies } : {}) });
  res.end(body);
}
