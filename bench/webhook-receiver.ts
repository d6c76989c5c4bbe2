import http from "node:http";

/**
 * The webhook bench's receiver, a process of its own (forked by bench/webhooks.ts): the bench's
 * process hosts the local runtime's proxies and would answer late, so the lag measured would be its
 * own. It answers every delivery at once with a 204 and records, per distinct event id, the time
 * from the event's fact (`createdAt`) to its first arrival. Over IPC it tells its port once
 * listening, and answers `report` with the distinct ids seen, the deliveries and each event's type and lag.
 */
const lags: { type: string; ms: number }[] = [];
const seen = new Set<string>();
let deliveries = 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    deliveries++;
    const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
      id: string;
      type: string;
      createdAt: string;
    };
    if (!seen.has(event.id)) {
      seen.add(event.id);
      lags.push({ type: event.type, ms: Date.now() - Date.parse(event.createdAt) });
    }
    res.writeHead(204).end();
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.send?.({ port: typeof address === "object" && address ? address.port : 0 });
});

process.on("message", (message: { type?: string }) => {
  if (message.type === "report") process.send?.({ distinct: seen.size, deliveries, lags });
});
process.on("disconnect", () => server.close(() => process.exit(0)));
