/**
 * Opens and clicks, and whether a person or a machine made them. Mail-privacy proxies open every
 * message they receive, and link scanners follow every link of a message within seconds of its
 * arrival: neither is a person reading. Each open and click is kept on its ledger item as one
 * entry of a string set (so a duplicate SES event adds nothing, and order does not matter), and
 * reports and follow-ups judge it here.
 *
 * An entry is `<kind>|<at>|<agent>|<link>`: `o` or `c`, the event's ISO timestamp, `m` when its
 * user agent or address is a known machine's and `h` otherwise, and a click's link. Neither the user
 * agent nor the IP address is kept.
 */

type EngagementKind = "open" | "click";

export interface Engagement {
  readonly kind: EngagementKind;
  readonly at: string;
  /** Judged from the event's user agent and address when it was recorded. */
  readonly machineAgent: boolean;
  readonly link?: string;
}

/** How much of a link an entry keeps. */
const LINK_CHARS = 300;

/** Entries a ledger item keeps; a recipient's opens and clicks past it are not recorded. */
export const ENGAGEMENT_LIMIT = 100;

/**
 * A click this soon after the message was sent is a scanner's: SES records the send, the receiving
 * server scans the message and follows its links before anyone could have read it.
 */
export const SCANNER_CLICK_MS = 10_000;

/** Clicks on this many different links within one second are a machine following them all. */
const BURST_LINKS = 3;
const BURST_MS = 1_000;

/** User agents of link scanners, mail-privacy proxies and HTTP libraries. */
const MACHINE_AGENTS =
  /bot\b|crawler|spider|scanner|headless|python-|curl\/|wget\/|go-http-client|java\/|okhttp|libwww|barracuda|mimecast|proofpoint|messagelabs|symantec|trendmicro|forcepoint|sophos|fortinet|microsoft office existence discovery|safelinks|^mozilla\/5\.0$/i;

/**
 * Addresses of mail-privacy proxies: Apple's network (Mail Privacy Protection fetches every image
 * of every message delivered to Apple Mail). IPv4 prefixes.
 */
const MACHINE_PREFIXES = ["17."];

/** Whether an open or click's user agent or address is a machine's. */
export function isMachineAgent(userAgent: string | undefined, ipAddress: string | undefined): boolean {
  if (userAgent !== undefined && MACHINE_AGENTS.test(userAgent.trim())) return true;
  return ipAddress !== undefined && MACHINE_PREFIXES.some((prefix) => ipAddress.startsWith(prefix));
}

export function encodeEngagement(e: Engagement): string {
  const kind = e.kind === "open" ? "o" : "c";
  const link = e.kind === "click" ? (e.link ?? "").slice(0, LINK_CHARS) : "";
  return `${kind}|${e.at}|${e.machineAgent ? "m" : "h"}|${link}`;
}

/** The entry's engagement, or undefined for anything that is not one. */
export function decodeEngagement(entry: string): Engagement | undefined {
  const [kind, at, agent, ...rest] = entry.split("|");
  if ((kind !== "o" && kind !== "c") || !at || (agent !== "m" && agent !== "h")) return undefined;
  const link = rest.join("|");
  return {
    kind: kind === "o" ? "open" : "click",
    at,
    machineAgent: agent === "m",
    ...(kind === "c" ? { link } : {}),
  };
}

/** An open or click, judged. */
export interface JudgedEngagement extends Engagement {
  readonly human: boolean;
}

/**
 * Judges one recipient's opens and clicks of one message: a machine made an event when its agent
 * is a machine's, when it is a click within SCANNER_CLICK_MS of the send, or when it is one of
 * clicks on BURST_LINKS or more different links within BURST_MS. Sorted by time.
 */
export function judgeEngagement(entries: readonly string[], sentAt: string | undefined): JudgedEngagement[] {
  const events = entries
    .map(decodeEngagement)
    .filter((e): e is Engagement => e !== undefined)
    .sort((a, b) => a.at.localeCompare(b.at));
  const sentMs = sentAt ? Date.parse(sentAt) : Number.NaN;
  const clicks = events.filter((e) => e.kind === "click");
  const inBurst = (at: number) =>
    new Set(clicks.filter((c) => Math.abs(Date.parse(c.at) - at) < BURST_MS).map((c) => c.link)).size >=
    BURST_LINKS;
  return events.map((e) => {
    const at = Date.parse(e.at);
    const machine = e.machineAgent || (e.kind === "click" && (at - sentMs < SCANNER_CLICK_MS || inBurst(at)));
    return { ...e, human: !machine };
  });
}

/** What a ledger record keeps of its opens and clicks. */
export interface StoredEngagement {
  /** When the sender recorded the send (older records: when SES's Send event said). */
  readonly sentAt?: string;
  /** Every open and click, encoded (absent on records from before they were kept one by one). */
  readonly engagement?: readonly string[];
  /** The first open and click of any kind. */
  readonly openedAt?: string;
  readonly clickedAt?: string;
}

/** A record's opens and clicks, judged; a record from before they were kept shows its first ones. */
export function judgedEngagementOf(record: StoredEngagement): JudgedEngagement[] {
  if (record.engagement && record.engagement.length > 0)
    return judgeEngagement(record.engagement, record.sentAt);
  const first = (kind: EngagementKind, at: string | undefined): JudgedEngagement[] =>
    at ? [{ kind, at, machineAgent: false, human: true }] : [];
  return [...first("open", record.openedAt), ...first("click", record.clickedAt)];
}
