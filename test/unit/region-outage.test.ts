import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { SqsEventSource } from "../../local/event-source.ts";
import { FaultProxy } from "../../local/fault-proxy.ts";
import type { FunctionPool } from "../../local/function-pool.ts";
import { freePort } from "../../local/processes.ts";
import { RegionOutage } from "../../local/region-outage.ts";
import type { ReplicationControl } from "../../local/replication.ts";

/**
 * A whole region down and back, on real loopback servers (its proxies, its API) and recording fakes
 * of the parts that need emulators (pollers, function pools, replication).
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function listen(
  handler: http.RequestListener,
  port = 0,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { server, port: (server.address() as AddressInfo).port };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

/** The status a GET answers, or "refused". */
async function status(url: string): Promise<number | "refused"> {
  try {
    return (await fetch(url)).status;
  } catch {
    return "refused";
  }
}

async function proxyTo(upstream: number): Promise<FaultProxy> {
  const proxy = new FaultProxy("dynamodb", "us-west-2", `http://127.0.0.1:${upstream}`, await freePort());
  await proxy.start();
  closers.push(() => proxy.stop());
  return proxy;
}

describe("a fault proxy in a region that goes down", () => {
  it("refuses connections while the region is down, and keeps its own fault for when it is back", async () => {
    const upstream = await listen((_req, res) => res.end("ok"));
    const proxy = await proxyTo(upstream.port);
    expect(await status(proxy.url)).toBe(200);
    await proxy.set({ mode: "error", error: "InternalFailure" });
    await proxy.setRegionDown(true);
    expect(await status(proxy.url)).toBe("refused");
    // Changing the service's fault meanwhile does not bring the endpoint back.
    await proxy.set({ mode: "latency", latencyMs: 1 });
    await proxy.set({ mode: "error", error: "InternalFailure" });
    expect(await status(proxy.url)).toBe("refused");
    await proxy.setRegionDown(false);
    expect(await status(proxy.url)).toBe(500);
    expect(proxy.mode).toBe("error");
    await proxy.set({ mode: "ok" });
    expect(await status(proxy.url)).toBe(200);
  });
});

describe("an SQS fault proxy that goes down during a long poll", () => {
  it("hands the messages the poll then brings back to the queue: nobody received them", async () => {
    const calls: { target: string; body: unknown }[] = [];
    let answerPoll: () => void = () => {};
    const polled = new Promise<void>((resolve) => (answerPoll = resolve));
    const upstream = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const target = String(req.headers["x-amz-target"]);
        calls.push({ target, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        const reply = () => res.end(JSON.stringify({ Messages: [{ MessageId: "m1", ReceiptHandle: "r1" }] }));
        if (target === "AmazonSQS.ReceiveMessage") void polled.then(reply);
        else res.end("{}");
      });
    });
    const proxy = new FaultProxy("sqs", "us-west-2", `http://127.0.0.1:${upstream.port}`, await freePort());
    await proxy.start();
    closers.push(() => proxy.stop());
    const receive = (body: unknown) =>
      fetch(proxy.url, {
        method: "POST",
        headers: { "x-amz-target": "AmazonSQS.ReceiveMessage", "content-type": "application/x-amz-json-1.0" },
        body: JSON.stringify(body),
      });
    const poll = receive({ QueueUrl: "http://sqs.us-west-2.localhost/000000000000/q", WaitTimeSeconds: 5 });
    await until(() => calls.length === 1);
    await proxy.setRegionDown(true);
    await expect(poll).rejects.toThrow();
    answerPoll();
    await until(() => calls.length === 2);
    expect(calls[1]).toEqual({
      target: "AmazonSQS.ChangeMessageVisibilityBatch",
      body: {
        QueueUrl: "http://sqs.us-west-2.localhost/000000000000/q",
        Entries: [{ Id: "0", ReceiptHandle: "r1", VisibilityTimeout: 0 }],
      },
    });
    // A poll answered while the endpoint is up is the caller's, as always.
    await proxy.setRegionDown(false);
    const answered = receive({ QueueUrl: "q" });
    expect(await (await answered).json()).toEqual({ Messages: [{ MessageId: "m1", ReceiptHandle: "r1" }] });
    expect(calls).toHaveLength(3);
  });
});

describe("a region outage", () => {
  async function region() {
    const upstream = await listen((_req, res) => res.end("ok"));
    const proxy = await proxyTo(upstream.port);
    const api = await listen((_req, res) => res.end("api"));
    const calls: string[] = [];
    const source = {
      stop: async () => void calls.push("poller stop"),
      start: () => void calls.push("poller start"),
    } as unknown as SqsEventSource;
    const pool = { crash: () => (calls.push("crash"), 1) } as unknown as FunctionPool;
    const replication = {
      isolate: (name: string, isolated: boolean) => void calls.push(`isolate ${name} ${isolated}`),
    } as unknown as ReplicationControl;
    const outage = new RegionOutage(
      {
        name: "us-west-2",
        proxies: { dynamodb: proxy },
        pools: new Map([["sender", pool]]),
        eventSources: [source],
      },
      replication,
    );
    outage.serveApi(api.server, api.port);
    return { outage, calls, proxy, apiUrl: `http://127.0.0.1:${api.port}` };
  }

  it("stops the pollers, kills the environments, refuses the API and the endpoints, and cuts replication; then brings all back", async () => {
    const { outage, calls, proxy, apiUrl } = await region();
    expect(await status(apiUrl)).toBe(200);
    await outage.set(true);
    expect(outage.down).toBe(true);
    expect(calls).toEqual(["poller stop", "crash", "isolate us-west-2 true"]);
    expect(await status(apiUrl)).toBe("refused");
    expect(await status(proxy.url)).toBe("refused");

    calls.length = 0;
    await outage.set(false);
    expect(outage.down).toBe(false);
    expect(calls).toEqual(["isolate us-west-2 false", "poller start"]);
    // Back on the same port.
    expect(await status(apiUrl)).toBe(200);
    expect(await status(proxy.url)).toBe(200);
  });

  it("ends in the last state asked for when changes come together, and does nothing twice", async () => {
    const { outage, calls, apiUrl } = await region();
    await Promise.all([outage.set(true), outage.set(true), outage.set(false), outage.set(true)]);
    expect(outage.down).toBe(true);
    expect(await status(apiUrl)).toBe("refused");
    // Down, back, down: each change made once.
    expect(calls.filter((c) => c === "crash")).toHaveLength(2);
    expect(calls.filter((c) => c === "poller start")).toHaveLength(1);
    await Promise.all([outage.set(false), outage.set(false)]);
    expect(await status(apiUrl)).toBe(200);
    expect(calls.filter((c) => c === "poller start")).toHaveLength(2);
  });
});
