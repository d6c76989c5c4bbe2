import { randomUUID } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import { handBackReceived } from "./sqs-hand-back.ts";

export type FaultMode = "ok" | "down" | "error" | "throttle" | "latency" | "lost-answer";
export type ServiceName = "ses" | "dynamodb" | "sqs";

export interface FaultSettings {
  readonly mode: FaultMode;
  /** AWS error name answered in `error` mode. */
  readonly error?: string;
  /** Requests per second let through in `throttle` mode. */
  readonly ratePerSecond?: number;
  readonly latencyMs?: number;
  /**
   * Requests a `lost-answer` fault applies to before the proxy heals by itself (SES: SendEmail
   * requests only); without it, every request until healed.
   */
  readonly count?: number;
  /**
   * SES `error` mode: only SendEmail requests to one of these addresses get the error; every other
   * request goes through (a rejection of particular recipients).
   */
  readonly recipients?: readonly string[];
}

/** The error each service answers when throttling, and its HTTP status. */
const THROTTLE: Record<ServiceName, { name: string; status: number }> = {
  ses: { name: "TooManyRequestsException", status: 429 },
  dynamodb: { name: "ThrottlingException", status: 400 },
  sqs: { name: "ThrottlingException", status: 400 },
};

/** DynamoDB operations that write items. */
const WRITES = new Set([
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "BatchWriteItem",
  "TransactWriteItems",
  "ExecuteStatement",
  "BatchExecuteStatement",
  "ExecuteTransaction",
]);

const SERVER_ERRORS = new Set([
  "InternalFailure",
  "InternalServerError",
  "ServiceUnavailable",
  "InternalError",
]);

export interface ProxyStats {
  requests: Record<string, number>;
  sesAccepted: number;
  /**
   * DynamoDB items written, by write request (a batch counts its items, a transaction twice each):
   * the write request units the requests would use on AWS for items under 1 KB.
   */
  dynamoWriteUnits: number;
}

/** How long the proxy keeps a caller's idle connection open. */
const IDLE_CONNECTION_MS = 120_000;

/**
 * A fault-injection proxy in front of one emulated service in one region. In `ok` mode it forwards
 * every request; the other modes make it behave like a failing AWS endpoint: `down` refuses
 * connections, `error` answers a typed AWS error, `throttle` answers the service's throttling error
 * above a rate, `latency` delays every request, `lost-answer` lets the service do the work and then
 * resets the caller's connection instead of answering.
 */
export class FaultProxy {
  private settings: FaultSettings = { mode: "ok" };
  /** The whole region is down: the proxy refuses connections whatever its own settings say. */
  private outage = false;
  /** How many times the proxy went down: a request that spans one had its caller cut off. */
  private downs = 0;
  private server: http.Server;
  private readonly sockets = new Set<Socket>();
  private listening = false;
  private windowStart = 0;
  private windowCount = 0;
  /** Requests a counted `lost-answer` fault still applies to. */
  private lostLeft: number | undefined;
  readonly stats: ProxyStats = { requests: {}, sesAccepted: 0, dynamoWriteUnits: 0 };
  /** SES message ids handed out by this proxy → the id the emulator stored the message under. */
  readonly sesMessageIds = new Map<string, string>();
  /** Called for every SendEmail the emulator accepted, with the id handed out and the request body. */
  onSesAccepted?: (accepted: { messageId: string; request: Buffer }) => void;
  /** Called once DynamoDB has answered a request that may have written items. */
  onDynamoWrite?: () => void;

  constructor(
    readonly service: ServiceName,
    readonly region: string,
    private readonly target: string,
    readonly port: number,
  ) {
    this.server = this.createServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.listening) return;
    this.server = this.createServer();
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.listening = true;
  }

  async stop(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    this.downs++;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** The service's own fault mode (its region may be down besides). */
  get mode(): FaultMode {
    return this.settings.mode;
  }

  /** How many more requests the fault in force applies to, when it is counted. */
  get requestsLeft(): number | undefined {
    return this.lostLeft;
  }

  async set(settings: FaultSettings): Promise<void> {
    this.settings = settings;
    this.windowStart = 0;
    this.windowCount = 0;
    this.lostLeft = settings.mode === "lost-answer" ? settings.count : undefined;
    await this.apply();
  }

  /**
   * Takes the endpoint down with its whole region, or brings it back. The service's own fault is
   * kept apart, so that it holds again once the region is back (and changing it meanwhile keeps the
   * endpoint down).
   */
  async setRegionDown(down: boolean): Promise<void> {
    this.outage = down;
    await this.apply();
  }

  private async apply(): Promise<void> {
    if (this.outage || this.settings.mode === "down") await this.stop();
    else await this.start();
  }

  private createServer(): http.Server {
    const server = http.createServer((req, res) => void this.handle(req, res));
    // An AWS endpoint keeps an idle connection open far longer than Node's 5 s default. The SDK's
    // agent sets no idle limit of its own, so with the default it would now and then send a request
    // on a connection the proxy had just closed: a reset, an unknown outcome and a failover that no
    // endpoint on AWS would cause.
    server.keepAliveTimeout = IDLE_CONNECTION_MS;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    return server;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const operation = operationOf(this.service, req);
    this.stats.requests[operation] = (this.stats.requests[operation] ?? 0) + 1;
    const { mode } = this.settings;
    if (mode === "latency") await new Promise((r) => setTimeout(r, this.settings.latencyMs ?? 200));
    if (mode === "error" && this.settings.recipients) {
      if (operation !== "SendEmail") return this.forward(req, res, operation, false);
      const body = await readAll(req);
      if (!sendsTo(body, this.settings.recipients)) return this.forward(req, res, operation, false, body);
      const name = this.settings.error ?? "InternalFailure";
      return awsError(res, SERVER_ERRORS.has(name) ? 500 : 400, name, `injected fault: ${name}`);
    }
    if (mode === "error") {
      req.resume();
      const name = this.settings.error ?? "InternalFailure";
      return awsError(res, SERVER_ERRORS.has(name) ? 500 : 400, name, `injected fault: ${name}`);
    }
    if (mode === "throttle" && !this.admit()) {
      req.resume();
      const { name, status } = THROTTLE[this.service];
      return awsError(res, status, name, "Rate exceeded (injected)");
    }
    this.forward(req, res, operation, mode === "lost-answer" && this.loses(operation));
  }

  /**
   * Whether the answer to this request is to be lost, counting it against a counted fault. For SES
   * only SendEmail is affected: the fault stands for a send that went through unbeknown to its
   * caller, and the account and other calls around it must still answer.
   */
  private loses(operation: string): boolean {
    if (this.service === "ses" && operation !== "SendEmail") return false;
    if (this.lostLeft === undefined) return true;
    this.lostLeft--;
    if (this.lostLeft <= 0) {
      // The fault never takes the endpoint down, so going back to `ok` needs no restart.
      this.settings = { mode: "ok" };
      this.lostLeft = undefined;
    }
    return true;
  }

  /** A fixed one-second window: at most `ratePerSecond` requests pass in each. */
  private admit(): boolean {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount++;
    return this.windowCount <= (this.settings.ratePerSecond ?? 10);
  }

  private countWrites(req: http.IncomingMessage, operation: string): void {
    if (["PutItem", "UpdateItem", "DeleteItem"].includes(operation)) {
      this.stats.dynamoWriteUnits++;
      return;
    }
    if (operation !== "BatchWriteItem" && operation !== "TransactWriteItems") return;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          RequestItems?: Record<string, unknown[]>;
          TransactItems?: unknown[];
        };
        const items =
          operation === "BatchWriteItem"
            ? Object.values(body.RequestItems ?? {}).reduce((n, list) => n + list.length, 0)
            : 2 * (body.TransactItems?.length ?? 0);
        this.stats.dynamoWriteUnits += items;
      } catch {
        // not JSON: DynamoDB will refuse it, and it writes nothing
      }
    });
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    operation: string,
    lose: boolean,
    /** The request's body, when it was read already. */
    body?: Buffer,
  ): void {
    const target = new URL(this.target);
    const request: Buffer[] = body ? [body] : [];
    const receive = this.service === "sqs" && operation === "ReceiveMessage";
    if (!body && ((this.onSesAccepted && operation === "SendEmail") || receive))
      req.on("data", (c: Buffer) => request.push(c));
    const downs = this.downs;
    const upstreamHeaders = { ...req.headers, host: target.host };
    if (this.service === "dynamodb") this.countWrites(req, operation);
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: upstreamHeaders,
      },
      (up) => {
        if (lose) {
          this.loseAnswer(up, req, operation, () => Buffer.concat(request));
          return;
        }
        if (this.service === "ses" && operation === "SendEmail" && up.statusCode === 200) {
          this.rewriteSesReply(up, res, () => Buffer.concat(request));
          return;
        }
        if (receive && up.statusCode === 200) {
          this.answerReceive(up, res, downs, upstreamHeaders, () => Buffer.concat(request));
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (this.onDynamoWrite && WRITES.has(operation)) up.once("end", this.onDynamoWrite);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      // The emulator behind the proxy is gone: look like an unreachable endpoint.
      req.socket.destroy();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  }

  /**
   * The answer to a ReceiveMessage, unless the proxy went down while it waited (a long poll): the
   * endpoint was gone, so no one received anything, yet the emulator, which does not notice its
   * caller leave, has put the messages in flight. They are handed back to the queue at once rather
   * than left invisible for their visibility timeout (their receive count keeps the extra receive).
   */
  private answerReceive(
    up: http.IncomingMessage,
    res: http.ServerResponse,
    downs: number,
    headers: http.OutgoingHttpHeaders,
    request: () => Buffer,
  ): void {
    const chunks: Buffer[] = [];
    up.on("data", (c: Buffer) => chunks.push(c));
    up.on("end", () => {
      const body = Buffer.concat(chunks);
      if (this.downs === downs) {
        const { "transfer-encoding": _chunked, ...replyHeaders } = up.headers;
        res.writeHead(200, { ...replyHeaders, "content-length": String(body.length) });
        res.end(body);
        return;
      }
      res.destroy();
      // Should the emulator refuse, the messages come back after their visibility timeout anyway.
      void handBackReceived(this.target, headers, request(), body).catch(() => undefined);
    });
  }

  /**
   * The emulator did the work and answered; the answer is read to its end, so that what the service
   * did is recorded as for any answer (an SES message accepted goes on to its events, a write
   * replicates), and then the caller's connection is reset rather than answered, as when a network
   * drops the answer to a call that succeeded: the caller cannot tell whether it did.
   */
  private loseAnswer(
    up: http.IncomingMessage,
    req: http.IncomingMessage,
    operation: string,
    request: () => Buffer,
  ): void {
    const chunks: Buffer[] = [];
    up.on("data", (c: Buffer) => chunks.push(c));
    up.on("end", () => {
      if (this.service === "ses" && operation === "SendEmail" && up.statusCode === 200)
        this.acceptSes(Buffer.concat(chunks).toString("utf8"), request);
      if (this.onDynamoWrite && WRITES.has(operation)) this.onDynamoWrite();
      req.socket.resetAndDestroy();
    });
  }

  /**
   * aws-ses-v2-local numbers messages with 9 random digits, which collide past a few tens of
   * thousands; SES's own ids are unique, so the proxy hands out unique ones and remembers the map.
   */
  private rewriteSesReply(up: http.IncomingMessage, res: http.ServerResponse, request: () => Buffer): void {
    const chunks: Buffer[] = [];
    up.on("data", (c: Buffer) => chunks.push(c));
    up.on("end", () => {
      const body = this.acceptSes(Buffer.concat(chunks).toString("utf8"), request);
      const headers = { ...up.headers, "content-length": String(Buffer.byteLength(body)) };
      res.writeHead(200, headers);
      res.end(body);
    });
  }

  /** Records a message SES accepted under a unique id, and gives the answer that hands it out. */
  private acceptSes(body: string, request: () => Buffer): string {
    let answer = body;
    try {
      const parsed = JSON.parse(body) as { MessageId?: string };
      if (parsed.MessageId) {
        const unique = `0100${Date.now().toString(16)}-${randomUUID()}-000000`;
        this.sesMessageIds.set(unique, parsed.MessageId);
        parsed.MessageId = unique;
        this.stats.sesAccepted++;
        answer = JSON.stringify(parsed);
        this.onSesAccepted?.({ messageId: unique, request: request() });
      }
    } catch {
      // pass the body through untouched
    }
    return answer;
  }
}

function awsError(res: http.ServerResponse, status: number, name: string, message: string): void {
  const body = JSON.stringify({ __type: name, message, Message: message });
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "x-amzn-errortype": name,
    "x-amzn-query-error": `${name};Sender`,
    "x-amzn-requestid": randomUUID(),
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** The AWS operation a request calls: from X-Amz-Target (JSON protocols) or the REST path (SES v2). */
function operationOf(service: ServiceName, req: http.IncomingMessage): string {
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") return target.split(".").pop() ?? target;
  if (service === "ses") {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (req.method === "POST" && path === "/v2/email/outbound-emails") return "SendEmail";
    if (req.method === "POST" && path === "/v2/email/outbound-bulk-emails") return "SendBulkEmail";
    if (req.method === "GET" && path === "/v2/email/account") return "GetAccount";
    return `${req.method} ${path}`;
  }
  return "unknown";
}

function readAll(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** Whether an SES v2 SendEmail request body is addressed to one of `recipients`. */
function sendsTo(body: Buffer, recipients: readonly string[]): boolean {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { Destination?: { ToAddresses?: string[] } };
    return (parsed.Destination?.ToAddresses ?? []).some((to) => recipients.includes(to));
  } catch {
    return false;
  }
}
