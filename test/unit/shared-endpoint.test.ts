import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { SharedEndpoint } from "../../local/shared-endpoint.ts";

/** A region's API stand-in: `/health` answers what `healthy()` says; anything else, the region's name. */
async function region(name: string, healthy: () => boolean) {
  let checks = 0;
  const server = http.createServer((req, res) => {
    if (req.url === "/health") {
      checks++;
      res.writeHead(healthy() ? 200 : 503).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { name, apiUrl: `http://127.0.0.1:${port}`, server, checks: () => checks };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function setup(primaryHealthy: () => boolean) {
  const a = await region("a", primaryHealthy);
  const b = await region("b", () => true);
  const endpoint = new SharedEndpoint(10);
  const url = await endpoint.listen();
  endpoint.route([a, b]);
  closers.push(
    () => endpoint.stop(),
    () => new Promise((r) => a.server.close(r)),
    () => new Promise((r) => b.server.close(r)),
  );
  /** Which regions answered requests sent until `a` has had `checks` more health checks. */
  const answeredUntil = async (checks: number) => {
    const until = a.checks() + checks;
    const seen = new Set<string>();
    while (a.checks() < until) seen.add(await (await fetch(`${url}/lists`)).text());
    return seen;
  };
  return { answeredUntil };
}

describe("the local shared hostname", () => {
  it("keeps a region whose health check fails twice in a row, as Route 53 does with a threshold of 3", async () => {
    let failures = 0;
    const { answeredUntil } = await setup(() => failures++ % 3 === 2);
    // Every third check passes: never 3 failures in a row.
    expect([...(await answeredUntil(12))]).toEqual(["a"]);
  }, 30_000);

  it("sends traffic away after 3 failed checks in a row, and back after 3 passed", async () => {
    let healthy = true;
    const { answeredUntil } = await setup(() => healthy);
    expect([...(await answeredUntil(3))]).toEqual(["a"]);
    healthy = false;
    await answeredUntil(4);
    expect([...(await answeredUntil(3))]).toEqual(["b"]);
    healthy = true;
    await answeredUntil(4);
    expect([...(await answeredUntil(3))]).toEqual(["a"]);
  }, 30_000);
});
