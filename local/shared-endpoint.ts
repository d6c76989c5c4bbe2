import http from "node:http";

interface Target {
  readonly name: string;
  readonly apiUrl: string;
  healthy: boolean;
  /** Checks in a row whose outcome differs from `healthy`: at FAILURE_THRESHOLD, it flips. */
  streak: number;
}

/** How often each region's `GET /health` is checked. */
const CHECK_INTERVAL_MS = 1_000;
/** Route 53 wants the status within 2 s of connecting. */
const CHECK_TIMEOUT_MS = 2_000;
/**
 * Checks in a row that must fail (or pass) to change a region's status: Route 53's default, and what
 * the deployed health checks set. One slow answer on a busy machine does not send traffic away.
 */
const FAILURE_THRESHOLD = 3;

/**
 * The deployment's one public hostname, locally: what Route 53 does on AWS with a latency record per
 * region and a health check on each region's `GET /health`. A request goes to the first region (in
 * the configured order, the primary first) that its health checks count healthy: a region turns
 * unhealthy after 3 failed checks in a row, and healthy again after 3 passed. A region that refuses
 * the connection is marked unhealthy at once and the request goes to the next one, so a client and
 * an unsubscribe link mailed from a region that is now down keep working. Each answer says which
 * region served it (`x-steadfast-region`).
 */
export class SharedEndpoint {
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private targets: Target[] = [];
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  url = "";

  constructor(private readonly checkIntervalMs = CHECK_INTERVAL_MS) {}

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", () => resolve()));
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  /** Starts routing to `regions`, checking their health every `checkIntervalMs` (a second by default). */
  route(regions: readonly { name: string; apiUrl: string }[]): void {
    this.targets = regions.map((r) => ({ name: r.name, apiUrl: r.apiUrl, healthy: true, streak: 0 }));
    this.timer = setInterval(() => void this.check(), this.checkIntervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await new Promise((r) => this.server.close(r));
    this.server.closeAllConnections();
  }

  /** One round of checks (none starts while the last one runs). */
  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all(this.targets.map(async (target) => record(target, await passes(target))));
    } finally {
      this.checking = false;
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // Healthy regions first, in order; the others only if none is.
    const order = [...this.targets.filter((t) => t.healthy), ...this.targets.filter((t) => !t.healthy)];
    for (const target of order) {
      try {
        await forward(target, req, body, res);
        return;
      } catch (error) {
        // Nothing reached the region: the next one may take the request.
        if ((error as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw error;
        target.healthy = false;
        target.streak = 0;
      }
    }
    res.writeHead(503, { "content-type": "application/json", "retry-after": "5" });
    res.end(JSON.stringify({ error: { code: "service_unavailable", message: "no region is available" } }));
  }
}

/** Whether the region's `GET /health` answered 200 in time. */
async function passes(target: Target): Promise<boolean> {
  try {
    const response = await fetch(`${target.apiUrl}/health`, {
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Counts one check; the status flips after FAILURE_THRESHOLD checks in a row disagree with it. */
function record(target: Target, passed: boolean): void {
  if (passed === target.healthy) {
    target.streak = 0;
    return;
  }
  target.streak++;
  if (target.streak < FAILURE_THRESHOLD) return;
  target.healthy = passed;
  target.streak = 0;
}

function forward(
  target: Target,
  req: http.IncomingMessage,
  body: Buffer,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", target.apiUrl);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      url,
      {
        method: req.method,
        headers: { ...req.headers, host: url.host, "content-length": String(body.length) },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, "x-steadfast-region": target.name });
        answer.pipe(res);
        answer.on("end", () => resolve());
        answer.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
