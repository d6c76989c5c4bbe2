import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ControlServer } from "../../local/control.ts";
import { registerControlRoutes } from "../../local/control-routes.ts";
import { FaultProxy, type ServiceName } from "../../local/fault-proxy.ts";
import { freePort } from "../../local/processes.ts";
import type { ReplicationControl } from "../../local/replication.ts";
import type { RegionRuntime } from "../../local/runtime-types.ts";

/**
 * The `lost-answer` fault on real loopback servers: a tiny upstream stands for the emulator, so the
 * test sees both that the service did the work and that its caller never heard of it.
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

interface Upstream {
  port: number;
  /** Each request the upstream received, as `METHOD path`. */
  received: string[];
}

/** An upstream that answers like the SES v2 emulator: a message id numbering each request. */
async function upstream(): Promise<Upstream> {
  const received: string[] = [];
  let next = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(`${req.method} ${req.url}`);
      const body = JSON.stringify({ MessageId: String(++next) });
      res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { port: (server.address() as AddressInfo).port, received };
}

async function proxyTo(service: ServiceName, to: Upstream, region = "us-east-1"): Promise<FaultProxy> {
  const proxy = new FaultProxy(service, region, `http://127.0.0.1:${to.port}`, await freePort());
  await proxy.start();
  closers.push(() => proxy.stop());
  return proxy;
}

type Outcome = { status: number; body: string } | { error: string };

/** One request on a fresh connection: its answer, or the code of the connection error instead. */
function call(url: string, method: string, path: string, headers: http.OutgoingHttpHeaders = {}) {
  return new Promise<Outcome>((resolve) => {
    const req = http.request(`${url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(method === "GET" ? undefined : "{}");
  });
}

const sendEmail = (proxy: FaultProxy) => call(proxy.url, "POST", "/v2/email/outbound-emails");
const getAccount = (proxy: FaultProxy) => call(proxy.url, "GET", "/v2/email/account");

describe("the lost-answer fault", () => {
  it("lets SES accept the next `count` SendEmails and resets their callers, then answers again", async () => {
    const ses = await upstream();
    const proxy = await proxyTo("ses", ses);
    const accepted: string[] = [];
    proxy.onSesAccepted = ({ messageId }) => accepted.push(messageId);
    await proxy.set({ mode: "lost-answer", count: 2 });
    expect(proxy.mode).toBe("lost-answer");
    expect(proxy.requestsLeft).toBe(2);

    expect(await sendEmail(proxy)).toEqual({ error: "ECONNRESET" });
    // Other SES calls pass untouched and do not count.
    expect(await getAccount(proxy)).toMatchObject({ status: 200 });
    expect(proxy.requestsLeft).toBe(1);
    expect(await sendEmail(proxy)).toEqual({ error: "ECONNRESET" });

    // The fault is spent: the proxy is back to `ok` by itself.
    expect(proxy.mode).toBe("ok");
    expect(proxy.requestsLeft).toBeUndefined();
    const answered = await sendEmail(proxy);
    expect(answered).toMatchObject({ status: 200 });
    const { MessageId } = JSON.parse((answered as { body: string }).body) as { MessageId: string };

    // The emulator got and accepted all three sends: the two lost ones went through all the same.
    expect(ses.received).toEqual([
      "POST /v2/email/outbound-emails",
      "GET /v2/email/account",
      "POST /v2/email/outbound-emails",
      "POST /v2/email/outbound-emails",
    ]);
    expect(proxy.stats.sesAccepted).toBe(3);
    expect(accepted).toHaveLength(3);
    expect(accepted[2]).toBe(MessageId);
    // The upstream numbers every answer, the account's (2) too.
    expect([...proxy.sesMessageIds.values()]).toEqual(["1", "3", "4"]);
    expect(proxy.sesMessageIds.get(MessageId)).toBe("4");
  });

  it("without a count, loses every answer until healed, and still reports the writes done", async () => {
    const dynamo = await upstream();
    const proxy = await proxyTo("dynamodb", dynamo);
    let writes = 0;
    proxy.onDynamoWrite = () => writes++;
    await proxy.set({ mode: "lost-answer" });
    const put = { "x-amz-target": "DynamoDB_20120810.PutItem" };
    const get = { "x-amz-target": "DynamoDB_20120810.GetItem" };

    for (let i = 0; i < 3; i++)
      expect(await call(proxy.url, "POST", "/", put)).toEqual({ error: "ECONNRESET" });
    expect(await call(proxy.url, "POST", "/", get)).toEqual({ error: "ECONNRESET" });
    expect(proxy.mode).toBe("lost-answer");
    expect(proxy.requestsLeft).toBeUndefined();
    expect(dynamo.received).toHaveLength(4);
    expect(writes).toBe(3);
    expect(proxy.stats.dynamoWriteUnits).toBe(3);

    await proxy.set({ mode: "ok" });
    expect(await call(proxy.url, "POST", "/", get)).toMatchObject({ status: 200 });
  });
});

describe("the lost-answer fault through the control API", () => {
  async function control(proxies: Record<ServiceName, FaultProxy>) {
    const server = new ControlServer();
    const region = { name: "us-east-1", proxies, pools: new Map(), outage: { down: false } };
    const replication = { settings: { lagMs: 0, down: false } } as unknown as ReplicationControl;
    registerControlRoutes(server, [region as unknown as RegionRuntime], replication);
    const url = await server.listen();
    closers.push(() => server.close());
    const post = async (body: unknown) =>
      (await fetch(`${url}/faults`, { method: "POST", body: JSON.stringify(body) })).status;
    const faults = async () => (await fetch(`${url}/faults`)).json() as Promise<Record<string, unknown>>;
    return { post, faults };
  }

  it("takes a count, shows what is left of it, and refuses a count that is not one", async () => {
    const up = await upstream();
    const proxies = {
      ses: await proxyTo("ses", up),
      dynamodb: await proxyTo("dynamodb", up),
      sqs: await proxyTo("sqs", up),
    };
    const { post, faults } = await control(proxies);

    expect(await post({ target: "ses", region: "us-east-1", mode: "lost-answer", count: 2 })).toBe(204);
    expect(await post({ target: "sqs", mode: "lost-answer" })).toBe(204);
    expect(await sendEmail(proxies.ses)).toEqual({ error: "ECONNRESET" });
    expect(await faults()).toMatchObject({
      services: { ses: { "us-east-1": "lost-answer" }, sqs: { "us-east-1": "lost-answer" } },
      requestsLeft: { ses: { "us-east-1": 1 } },
    });
    expect(await sendEmail(proxies.ses)).toEqual({ error: "ECONNRESET" });
    expect(await faults()).toMatchObject({ services: { ses: { "us-east-1": "ok" } }, requestsLeft: {} });

    for (const count of [0, -1, 1.5, "2"])
      expect(await post({ target: "ses", mode: "lost-answer", count })).toBe(400);
    expect(await post({ target: "ses", mode: "error", count: 1 })).toBe(400);
  });
});

describe("an idle connection", () => {
  it("is kept open past Node's 5 s default, as an AWS endpoint keeps it", async () => {
    const ses = await upstream();
    const proxy = await proxyTo("ses", ses);
    // As the SDK's own agent: keep-alive, no idle limit of its own.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    closers.push(async () => agent.destroy());
    const get = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.request(`${proxy.url}/v2/email/account`, { agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on("error", reject);
        req.end();
      });
    expect(await get()).toEqual({ status: 200, reused: false });
    await new Promise((r) => setTimeout(r, 6_000));
    // Closed by the proxy, the connection would be gone and the agent would open another.
    expect(await get()).toEqual({ status: 200, reused: true });
  }, 15_000);
});
