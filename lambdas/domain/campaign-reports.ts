import { judgedEngagementOf, type StoredEngagement } from "./engagement.ts";

/**
 * A campaign's reports, computed from its ledger records: each record holds first-time flags (set
 * once, whatever the order and number of SES events) and the set of its opens and clicks (a
 * duplicate event adds nothing), so both reports are exact under duplicate and out-of-order events.
 */

/** What a report reads of one ledger record. */
export interface ReportRecord extends StoredEngagement {
  readonly status: string;
  readonly deliveredAt?: string;
  readonly bouncedAt?: string;
  readonly complainedAt?: string;
}

export interface TimelineHour {
  /** The hour's start, ISO 8601 UTC. */
  readonly hour: string;
  readonly sent: number;
  readonly delivered: number;
  readonly bounced: number;
  readonly complained: number;
  /** Recipients whose first human open (or click: a click proves the open) falls in the hour. */
  readonly opened: number;
  /** Recipients whose first human click falls in the hour. */
  readonly clicked: number;
  /** Opens and clicks a machine made (privacy proxies, link scanners), every one. */
  readonly machineOpens: number;
  readonly machineClicks: number;
}

type Counter = Exclude<keyof TimelineHour, "hour">;

export interface LinkStats {
  readonly link: string;
  /** Every click on the link, people's and machines'. */
  readonly total: number;
  /** Recipients who clicked it. */
  readonly unique: number;
  /** Clicks people made, and how many people made them. */
  readonly human: number;
  readonly uniqueHuman: number;
}

/** The hour an ISO timestamp falls in, or undefined for a malformed one. */
function hourOf(at: string): string | undefined {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? undefined : `${new Date(ms).toISOString().slice(0, 13)}:00:00.000Z`;
}

/** Per hour, oldest first: what happened to the campaign's recipients. Hours with nothing are left out. */
export function timeline(records: Iterable<ReportRecord>): TimelineHour[] {
  const hours = new Map<string, Record<Counter, number>>();
  const count = (at: string | undefined, counter: Counter) => {
    const hour = at === undefined ? undefined : hourOf(at);
    if (hour === undefined) return;
    const row = hours.get(hour) ?? {
      sent: 0,
      delivered: 0,
      bounced: 0,
      complained: 0,
      opened: 0,
      clicked: 0,
      machineOpens: 0,
      machineClicks: 0,
    };
    row[counter]++;
    hours.set(hour, row);
  };
  for (const record of records) {
    if (record.status === "sent") count(record.sentAt, "sent");
    count(record.deliveredAt, "delivered");
    count(record.bouncedAt, "bounced");
    count(record.complainedAt, "complained");
    const events = judgedEngagementOf(record);
    count(events.find((e) => e.human)?.at, "opened");
    count(events.find((e) => e.human && e.kind === "click")?.at, "clicked");
    for (const e of events) if (!e.human) count(e.at, e.kind === "open" ? "machineOpens" : "machineClicks");
  }
  return [...hours].sort(([a], [b]) => a.localeCompare(b)).map(([hour, row]) => ({ hour, ...row }));
}

/** Per link clicked, most clicked by people first. */
export function linkReport(records: Iterable<ReportRecord>): LinkStats[] {
  const links = new Map<string, { total: number; unique: number; human: number; uniqueHuman: number }>();
  for (const record of records) {
    const clicks = judgedEngagementOf(record).filter((e) => e.kind === "click" && e.link !== undefined);
    const seen = new Set<string>();
    const seenHuman = new Set<string>();
    for (const click of clicks) {
      const link = click.link as string;
      const stats = links.get(link) ?? { total: 0, unique: 0, human: 0, uniqueHuman: 0 };
      stats.total++;
      if (!seen.has(link)) stats.unique++;
      seen.add(link);
      if (click.human) {
        stats.human++;
        if (!seenHuman.has(link)) stats.uniqueHuman++;
        seenHuman.add(link);
      }
      links.set(link, stats);
    }
  }
  return [...links]
    .map(([link, stats]) => ({ link, ...stats }))
    .sort((a, b) => b.human - a.human || b.total - a.total || a.link.localeCompare(b.link));
}
