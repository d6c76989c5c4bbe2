import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Campaign, SteadfastApi, SteadfastApiError } from "../sdk/index.ts";

/**
 * `steadfast`, the command line of the Steadfast API, on the SDK. The API's URL and key come from
 * `--url` and `--key`, else STEADFAST_URL and STEADFAST_API_KEY, else `.steadfast/local.json` (what
 * `npm start` writes). Answers are printed as JSON; `campaigns watch` draws a progress bar.
 */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Whether `out` is a terminal (the progress bar redraws one line) or a log (a line per update). */
  readonly tty: boolean;
}

const USAGE = `usage: steadfast [--url URL] [--key KEY] <command>

  lists create <name> | lists ls | lists get <id>
  subscribers add <listId> <email> [--attr name=value ...] | subscribers ls <listId>
  imports create <listId> <file.csv> | imports get <id>
  templates create --name N --subject S (--html H | --html-file F) | templates ls | templates get <id>
  campaigns create --list <id> (--subject S (--html H | --html-file F) | --template <id> [--template-version N])
  campaigns ls | get <id> | send <id> | pause <id> | resume <id> | cancel <id>
  campaigns follow-up <id> --audience failed|not_delivered|not_opened|not_clicked|clicked [--link URL] [--subject S]
  campaigns test <id> <email> [<email> ...]
  campaigns watch <id> [--interval MS]   a live progress bar until the campaign ends
  campaigns links <id> | campaigns timeline <id>
  queues | dlq redrive [--queue send|fanout]
`;

/** Statuses a campaign does not leave by itself. */
const ENDED = new Set(["sent", "cancelled"]);

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      name: { type: "string" },
      subject: { type: "string" },
      html: { type: "string" },
      "html-file": { type: "string" },
      list: { type: "string" },
      template: { type: "string" },
      "template-version": { type: "string" },
      audience: { type: "string" },
      link: { type: "string" },
      attr: { type: "string", multiple: true },
      queue: { type: "string" },
      interval: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [resource, verb, ...rest] = positionals;
  if (values.help || !resource) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const connection = connect(values.url, values.key, io);
  if (!connection) {
    io.err(
      "No API URL and key: pass --url and --key, set STEADFAST_URL and STEADFAST_API_KEY, or run npm start.\n",
    );
    return 2;
  }
  const api = new SteadfastApi(connection);
  const print = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);
  const need = (value: string | undefined, what: string): string => {
    if (value === undefined || value === "") throw new UsageError(`${what} is required`);
    return value;
  };
  const html = () =>
    values["html-file"]
      ? readFileSync(values["html-file"], "utf8")
      : need(values.html, "--html or --html-file");
  try {
    switch (`${resource} ${verb ?? ""}`.trim()) {
      case "lists create":
        print(await api.lists.create({ name: need(rest[0], "a name") }));
        return 0;
      case "lists ls":
        print(await api.lists.page({ limit: 100 }));
        return 0;
      case "lists get":
        print(await api.lists.get(need(rest[0], "a list id")));
        return 0;
      case "subscribers add": {
        const attributes = Object.fromEntries(
          (values.attr ?? []).map((pair) => {
            const at = pair.indexOf("=");
            if (at <= 0) throw new UsageError("--attr takes name=value");
            return [pair.slice(0, at), pair.slice(at + 1)];
          }),
        );
        print(
          await api.subscribers.upsert(need(rest[0], "a list id"), [
            { email: need(rest[1], "an email"), attributes },
          ]),
        );
        return 0;
      }
      case "subscribers ls":
        print(await api.subscribers.page(need(rest[0], "a list id"), { limit: 100 }));
        return 0;
      case "imports create":
        print(
          await api.imports.create(
            need(rest[0], "a list id"),
            readFileSync(need(rest[1], "a CSV file"), "utf8"),
          ),
        );
        return 0;
      case "imports get":
        print(await api.imports.get(need(rest[0], "an import id")));
        return 0;
      case "templates create":
        print(
          await api.templates.create({
            name: need(values.name, "--name"),
            subject: need(values.subject, "--subject"),
            html: html(),
          }),
        );
        return 0;
      case "templates ls":
        print(await api.templates.page({ limit: 100 }));
        return 0;
      case "templates get":
        print(await api.templates.get(need(rest[0], "a template id")));
        return 0;
      case "campaigns create": {
        const listId = need(values.list, "--list");
        const version = values["template-version"] ? Number(values["template-version"]) : undefined;
        print(
          await api.campaigns.create(
            values.template
              ? {
                  listId,
                  templateId: values.template,
                  ...(version ? { templateVersion: version } : {}),
                  ...(values.subject ? { subject: values.subject } : {}),
                }
              : { listId, subject: need(values.subject, "--subject"), html: html() },
          ),
        );
        return 0;
      }
      case "campaigns ls":
        print(await api.campaigns.page({ limit: 100 }));
        return 0;
      case "campaigns get":
        print(await api.campaigns.get(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns send":
        print(await api.campaigns.send(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns pause":
        print(await api.campaigns.pause(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns resume":
        print(await api.campaigns.resume(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns cancel":
        print(await api.campaigns.cancel(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns follow-up":
        print(
          await api.campaigns.followUp(need(rest[0], "a campaign id"), {
            audience: need(values.audience, "--audience") as never,
            ...(values.link ? { link: values.link } : {}),
            ...(values.subject ? { subject: values.subject } : {}),
          }),
        );
        return 0;
      case "campaigns test":
        if (rest.length < 2) throw new UsageError("a campaign id and at least one email are required");
        print(await api.campaigns.test(rest[0] as string, rest.slice(1)));
        return 0;
      case "campaigns watch":
        return await watch(api, need(rest[0], "a campaign id"), Number(values.interval ?? 500), io);
      case "campaigns links":
        print(await api.campaigns.links(need(rest[0], "a campaign id")));
        return 0;
      case "campaigns timeline":
        print(await api.campaigns.timeline(need(rest[0], "a campaign id")));
        return 0;
      case "queues":
        print(await api.admin.queues());
        return 0;
      case "dlq redrive":
        print(await api.admin.redrive(values.queue ? { queue: values.queue as "send" | "fanout" } : {}));
        return 0;
      default:
        throw new UsageError(`unknown command: ${positionals.join(" ")}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof SteadfastApiError) {
      io.err(`${error.message}${error.details.map((d) => `\n  ${d.path}: ${d.message}`).join("")}\n`);
      return 1;
    }
    throw error;
  }
}

class UsageError extends Error {}

/** The URL and key from flags, the environment, or the local runtime's file, in that order. */
function connect(url: string | undefined, key: string | undefined, io: Io) {
  let local: { sharedApiUrl?: string; apiKey?: string } = {};
  try {
    local = JSON.parse(readFileSync(join(io.cwd, ".steadfast", "local.json"), "utf8")) as typeof local;
  } catch {
    // no local runtime: flags or the environment must say
  }
  const resolvedUrl = url ?? io.env.STEADFAST_URL ?? local.sharedApiUrl;
  const apiKey = key ?? io.env.STEADFAST_API_KEY ?? local.apiKey;
  return resolvedUrl && apiKey ? { url: resolvedUrl, apiKey } : undefined;
}

/**
 * Polls the campaign and draws sent / failed / suppressed against its recipients, with the send
 * rate over the last few seconds, until it is sent or cancelled. Exit code 0 when sent.
 */
async function watch(api: SteadfastApi, id: string, intervalMs: number, io: Io): Promise<number> {
  const samples: { at: number; sent: number }[] = [];
  for (;;) {
    const campaign = await api.campaigns.get(id);
    const line = progressLine(campaign, samples);
    io.out(io.tty ? `\r${line}` : `${line}\n`);
    if (ENDED.has(campaign.status)) {
      if (io.tty) io.out("\n");
      return campaign.status === "sent" ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, Math.max(100, intervalMs)));
  }
}

/** One line of the progress bar; `samples` keeps the last few seconds of sent counts for the rate. */
function progressLine(campaign: Campaign, samples: { at: number; sent: number }[], now = Date.now()): string {
  const counts = campaign.counts ?? {};
  const total = counts.total ?? 0;
  const sent = counts.sent ?? 0;
  const failed = counts.failed ?? 0;
  const suppressed = counts.suppressed ?? 0;
  const done = sent + failed + suppressed + (counts.cancelled ?? 0);
  samples.push({ at: now, sent });
  while (samples.length > 2 && now - (samples[0]?.at ?? now) > 5_000) samples.shift();
  const first = samples[0] ?? { at: now, sent };
  const rate = now > first.at ? ((sent - first.sent) * 1000) / (now - first.at) : 0;
  const width = 30;
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}  sent ${sent}  failed ${failed}  suppressed ${suppressed}  ${rate.toFixed(1)}/s  ${campaign.status}`;
}
