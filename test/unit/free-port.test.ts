import net from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../../local/processes.ts";

describe("freePort in a test worker", () => {
  it("hands out ports of this worker's own range, below the system's ephemeral ports, skipping busy ones", async () => {
    const worker = Number(process.env.VITEST_POOL_ID);
    expect(Number.isInteger(worker) && worker >= 1).toBe(true);
    const base = 20_000 + (worker - 1) * 1_000;
    const first = await freePort();
    expect(first).toBeGreaterThanOrEqual(base);
    expect(first).toBeLessThan(base + 1_000);
    // Taken by someone else meanwhile: the next call does not hand it out again.
    const busy = net.createServer();
    await new Promise<void>((r) =>
      busy.listen(first + 1 >= base + 1_000 ? base : first + 1, "127.0.0.1", () => r()),
    );
    const taken = (busy.address() as net.AddressInfo).port;
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) ports.add(await freePort());
    busy.close();
    expect(ports.has(taken)).toBe(false);
    for (const port of ports) expect(port >= base && port < base + 1_000).toBe(true);
  });
});
