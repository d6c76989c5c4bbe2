import http from "node:http";

interface ControlReply {
  readonly status: number;
  readonly body?: unknown;
}

export type ControlHandler = (body: unknown, url: URL) => Promise<ControlReply> | ControlReply;

export class ControlError extends Error {
  override readonly name = "ControlError";
}

/**
 * The local runtime's control API (`controlUrl` in `.steadfast/local.json`): fault injection,
 * crashes and request statistics for tests, demos and benchmarks. Loopback only.
 */
export class ControlServer {
  private readonly routes = new Map<string, ControlHandler>();
  private server: http.Server | undefined;

  route(method: string, path: string, handler: ControlHandler): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  async listen(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => void this.answer(req, res, chunks));
    });
    await new Promise<void>((resolve) => this.server?.listen(port, "127.0.0.1", () => resolve()));
    const address = this.server.address() as { port: number };
    return `http://127.0.0.1:${address.port}`;
  }

  /** Answers one control request; every failure becomes a JSON error reply, never a rejection. */
  private async answer(req: http.IncomingMessage, res: http.ServerResponse, chunks: Buffer[]): Promise<void> {
    {
      const url = new URL(req.url ?? "/", "http://localhost");
      const handler = this.routes.get(`${req.method} ${url.pathname}`);
      const reply = (status: number, body?: unknown) => {
        res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (!handler) return reply(404, { error: { code: "not_found", message: "no such control route" } });
      let body: unknown;
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        body = text ? JSON.parse(text) : {};
      } catch {
        return reply(400, { error: { code: "invalid_json", message: "body is not valid JSON" } });
      }
      try {
        const out = await handler(body, url);
        reply(out.status, out.body);
      } catch (error) {
        if (error instanceof ControlError)
          return reply(400, { error: { code: "validation_failed", message: error.message } });
        reply(500, { error: { code: "internal_error", message: (error as Error).message } });
      }
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
  }
}
