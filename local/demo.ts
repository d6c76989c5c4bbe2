import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run as runCli } from "../cli/main.ts";
import { type CampaignView, SteadfastClient, sesStore } from "./client.ts";
import type { LocalInfo } from "./runtime-types.ts";

/**
 * `npm run demo`: against a running `npm start`, creates a list of 1,000 generated subscribers,
 * then creates, sends and watches a campaign to them with the steadfast command (its progress bar),
 * and prints the final counts and the inbox URL.
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

// The campaign is created, sent and watched with the steadfast command (cli/main.ts), as a user would.
const steadfast = async (...args: string[]): Promise<string> => {
  let out = "";
  const code = await runCli([...args, "--url", info.sharedApiUrl, "--key", info.apiKey], {
    out: (text) => (args[1] === "watch" ? process.stdout.write(text) : (out += text)),
    err: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    tty: Boolean(process.stdout.isTTY),
  });
  if (code !== 0) process.exit(code);
  return out;
};
const html =
  '<h1>Hello {{attributes.firstName | "there"}}</h1><p>This demo email was sent to {{email}} by Steadfast.</p>';
const campaign = JSON.parse(
  await steadfast(
    "campaigns",
    "create",
    "--list",
    list.id,
    "--subject",
    "Hello {{attributes.firstName}}",
    "--html",
    html,
  ),
) as { id: string };
await steadfast("campaigns", "send", campaign.id);
process.stdout.write(`Sending campaign ${campaign.id} (npx steadfast campaigns watch ${campaign.id})...\n`);
await steadfast("campaigns", "watch", campaign.id);
const done = await api.expect<CampaignView>(200, "GET", `/v1/campaigns/${campaign.id}`);

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
