import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CampaignView, SteadfastClient, sesStore, waitForCampaign } from "./client.ts";
import type { LocalInfo } from "./runtime-types.ts";

/**
 * `npm run demo`: against a running `npm start`, creates a list of 1,000 generated subscribers,
 * sends them a campaign with a progress bar, and prints the final counts and the inbox URL.
 */
const SUBSCRIBERS = Number(process.env.DEMO_SUBSCRIBERS ?? 1000);

function readInfo(): LocalInfo {
  try {
    return JSON.parse(readFileSync(join(process.cwd(), ".steadfast", "local.json"), "utf8")) as LocalInfo;
  } catch {
    process.stderr.write("No running Steadfast found (.steadfast/local.json). Start it first: npm start\n");
    process.exit(1);
  }
}

function bar(campaign: CampaignView): string {
  const { total = 0, sent = 0, failed = 0, suppressed = 0, cancelled = 0 } = campaign.counts;
  const done = sent + failed + suppressed + cancelled;
  const width = 40;
  const filled = SUBSCRIBERS > 0 ? Math.round((done / SUBSCRIBERS) * width) : width;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${SUBSCRIBERS} (queued ${total})  ${campaign.status}`;
}

const info = readInfo();
const api = new SteadfastClient(info.sharedApiUrl, info.apiKey);
const health = await api.request("GET", "/health").catch(() => undefined);
if (health?.status !== 200) {
  process.stderr.write(`Steadfast at ${info.sharedApiUrl} is not answering; is npm start running?\n`);
  process.exit(1);
}

const started = Date.now();
const list = await api.expect<{ id: string }>(201, "POST", "/v1/lists", {
  name: `Demo ${new Date().toISOString()}`,
});
const run = Date.now().toString(36);
for (let i = 0; i < SUBSCRIBERS; i += 1000) {
  const subscribers = Array.from({ length: Math.min(1000, SUBSCRIBERS - i) }, (_, j) => ({
    email: `demo-${run}-${i + j}@example.com`,
    attributes: { firstName: `Reader ${i + j}` },
  }));
  await api.expect(200, "PUT", `/v1/lists/${list.id}/subscribers`, { subscribers });
}
process.stdout.write(`Created list ${list.id} with ${SUBSCRIBERS} subscribers.\n`);

const campaign = await api.expect<{ id: string }>(201, "POST", "/v1/campaigns", {
  listId: list.id,
  from: "news@example.com",
  subject: "Hello {{attributes.firstName}}",
  html: '<h1>Hello {{attributes.firstName | "there"}}</h1><p>This demo email was sent to {{email}} by Steadfast.</p>',
});
await api.expect(202, "POST", `/v1/campaigns/${campaign.id}/send`);
process.stdout.write(`Sending campaign ${campaign.id}...\n`);

const interactive = process.stdout.isTTY;
let lastPrinted = 0;
const done = await waitForCampaign(api, campaign.id, 15 * 60_000, (c) => {
  if (interactive) process.stdout.write(`\r${bar(c)}`);
  else if (Date.now() - lastPrinted >= 2000) {
    // Not a terminal (CI, a pipe): a line every two seconds instead of a redrawn bar.
    process.stdout.write(`${bar(c)}\n`);
    lastPrinted = Date.now();
  }
});
process.stdout.write(`${interactive ? "\r" : ""}${bar(done)}\n\n`);

const emails = (await Promise.all(info.regions.map((r) => sesStore(r.sesUrl)))).flat();
const mine = emails.filter((e) => e.destination.to.some((to) => to.startsWith(`demo-${run}-`)));
const distinct = new Set(mine.flatMap((e) => e.destination.to));
const seconds = (Date.now() - started) / 1000;
process.stdout.write(
  [
    `Campaign ${done.status} in ${seconds.toFixed(1)} s.`,
    `Counts: ${JSON.stringify(done.counts)}`,
    `SES emulators accepted ${mine.length} emails for ${distinct.size} distinct recipients${mine.length === distinct.size ? " (each exactly once)" : ""}.`,
    ...info.regions.map((r) => `Inbox (${r.name}): ${r.sesUrl}/`),
    "",
  ].join("\n"),
);
