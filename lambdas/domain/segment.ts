import type { EngagementKind, SegmentRule } from "../contracts/segment-rule.ts";
import { judgedEngagementOf, type StoredEngagement } from "./engagement.ts";
import { type FollowUp, inFollowUp } from "./follow-up.ts";

/** What the ledger says one address did with one campaign (ISO 8601 times of SES events). */
export interface EngagementRecord extends StoredEngagement {
  readonly campaignId: string;
  /** The recipient's ledger status. */
  readonly status?: string;
  readonly deliveredAt?: string;
}

/** What a rule is evaluated on: one subscriber of a list. */
export interface SegmentSubject {
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly status: string;
  /** When the address joined the list (ISO 8601). */
  readonly createdAt?: string;
  /** Its ledger records of the campaigns the rule's engagement tests look at (absent: none read). */
  readonly engagement?: readonly EngagementRecord[];
}

/**
 * Whether a subscriber matches a rule (grammar: contracts/segment-rule.ts); `nowMs` is when
 * engagement `withinDays` counts back from.
 */
export function matches(rule: SegmentRule, subject: SegmentSubject, nowMs = Date.now()): boolean {
  if ("all" in rule) return rule.all.every((r) => matches(r, subject, nowMs));
  if ("any" in rule) return rule.any.some((r) => matches(r, subject, nowMs));
  if ("not" in rule) return !matches(rule.not, subject, nowMs);
  if ("status" in rule) return subject.status === rule.status;
  if ("engagement" in rule) {
    const since =
      rule.withinDays === undefined ? Number.NEGATIVE_INFINITY : nowMs - rule.withinDays * 86_400_000;
    return (subject.engagement ?? []).some((record) => {
      if (rule.campaignId !== undefined && record.campaignId !== rule.campaignId) return false;
      return engagedAt(record, rule.engagement).some((at) => Date.parse(at) >= since);
    });
  }
  if ("subscribedAt" in rule) {
    const at = subject.createdAt ? Date.parse(subject.createdAt) : Number.NaN;
    if (Number.isNaN(at)) return false;
    const { after, before } = rule.subscribedAt;
    return (
      (after === undefined || at > Date.parse(after)) && (before === undefined || at < Date.parse(before))
    );
  }
  return attributeMatches(rule, subject.attributes[rule.attribute]);
}

/**
 * When a record shows the engagement: its delivery for `received`; for `opened` and `clicked`, the
 * opens and clicks people made (a click proves an open), never a proxy's or a scanner's
 * (domain/engagement.ts), as follow-ups and reports count them.
 */
function engagedAt(record: EngagementRecord, kind: EngagementKind): string[] {
  if (kind === "received") return record.deliveredAt ? [record.deliveredAt] : [];
  return judgedEngagementOf(record)
    .filter((e) => e.human && (kind === "opened" || e.kind === "click"))
    .map((e) => e.at);
}

/**
 * Which ledger records an audience's engagement tests need: the campaigns they name, and how far
 * back tests that name none look (days; Infinity: as far as the ledger keeps). Undefined when
 * there is no engagement test at all, so nothing is read.
 */
export function engagementNeeds(
  audience: CampaignAudience | undefined,
): { readonly campaignIds: ReadonlySet<string>; readonly anyWithinDays?: number } | undefined {
  const campaignIds = new Set<string>();
  let anyWithinDays: number | undefined;
  let found = false;
  const visit = (rule: SegmentRule): void => {
    if ("all" in rule) rule.all.forEach(visit);
    else if ("any" in rule) rule.any.forEach(visit);
    else if ("not" in rule) visit(rule.not);
    else if ("engagement" in rule) {
      found = true;
      if (rule.campaignId !== undefined) campaignIds.add(rule.campaignId);
      else anyWithinDays = Math.max(anyWithinDays ?? 0, rule.withinDays ?? Number.POSITIVE_INFINITY);
    }
  };
  if (audience?.include) visit(audience.include.rule);
  for (const segment of audience?.exclude ?? []) visit(segment.rule);
  if (audience?.followUp) {
    found = true;
    campaignIds.add(audience.followUp.campaignId);
  }
  if (!found) return undefined;
  return { campaignIds, ...(anyWithinDays !== undefined ? { anyWithinDays } : {}) };
}

function attributeMatches(
  test: Extract<SegmentRule, { attribute: string }>,
  actual: string | number | boolean | undefined,
): boolean {
  if (test.op === "exists") return actual !== undefined && actual !== "";
  if (actual === undefined) return test.op === "ne";
  const expected = test.value;
  switch (test.op) {
    case "eq":
      return same(actual, expected);
    case "ne":
      return !same(actual, expected);
    case "contains":
      return String(actual).toLowerCase().includes(String(expected).toLowerCase());
    case "before":
    case "after": {
      const a = Date.parse(String(actual));
      const b = Date.parse(String(expected));
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      return test.op === "before" ? a < b : a > b;
    }
    default: {
      const order = compare(actual, expected);
      if (order === undefined) return false;
      if (test.op === "gt") return order > 0;
      if (test.op === "gte") return order >= 0;
      if (test.op === "lt") return order < 0;
      return order <= 0;
    }
  }
}

/** A number, or the number a text spells (CSV imports store numbers as text); NaN otherwise. */
function asNumber(value: unknown): number {
  if (typeof value === "number") return value;
  return typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
}

/** Equal as the same type, or a number and its decimal text. */
function same(actual: string | number | boolean, expected: unknown): boolean {
  if (typeof actual === typeof expected) return actual === expected;
  if (typeof actual === "boolean" || typeof expected === "boolean") return false;
  const a = asNumber(actual);
  return !Number.isNaN(a) && a === asNumber(expected);
}

/** Numbers (or numeric text) compare as numbers, other strings as text; anything else not at all. */
function compare(actual: string | number | boolean, expected: unknown): number | undefined {
  const a = asNumber(actual);
  const b = asNumber(expected);
  if (!Number.isNaN(a) && !Number.isNaN(b)) return a - b;
  if (typeof actual === "string" && typeof expected === "string")
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  return undefined;
}

/** A segment as a campaign copied it when it was sent: later changes to the segment do not reach it. */
export interface FrozenSegment {
  readonly id: string;
  readonly version: number;
  readonly rule: SegmentRule;
}

/**
 * Who of a list a campaign is for, fixed when it is sent: those matching `include` (everyone when
 * absent), but none matching an `exclude` segment, and none on an `excludeListIds` list.
 */
export interface CampaignAudience {
  /** Only these recipients of another campaign (domain/follow-up.ts). */
  readonly followUp?: FollowUp;
  readonly include?: FrozenSegment;
  readonly exclude: readonly FrozenSegment[];
  readonly excludeListIds: readonly string[];
}

/** Whether a subscriber passes the audience's segments (the excluded lists are looked up apart). */
export function inAudience(
  audience: CampaignAudience | undefined,
  subject: SegmentSubject,
  nowMs = Date.now(),
): boolean {
  if (!audience) return true;
  if (audience.followUp && !inFollowUp(audience.followUp, subject.engagement)) return false;
  if (audience.include && !matches(audience.include.rule, subject, nowMs)) return false;
  return !audience.exclude.some((segment) => matches(segment.rule, subject, nowMs));
}
