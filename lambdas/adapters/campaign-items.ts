import type { Campaign, CampaignStatus } from "../domain/campaign.ts";
import type { FeedbackCounters } from "../domain/feedback-counters.ts";
import type { ControlIntent } from "../domain/ownership.ts";

/** The campaign item's shape as CampaignStore (its one writer) reads and writes it. */

/** A campaign as stored: its content and status, plus the fan-out's checkpoint. */
export type StoredCampaign = Campaign & {
  /** How far the fan-out's reader has cut the list into slices (a key cursor). */
  readonly fanoutCursor?: string;
  /** The fan-out run whose slices count (FanoutSlices); a takeover starts a new one. */
  readonly fanoutRun?: string;
  /** Slices the reader has cut so far. */
  readonly fanoutSlices?: number;
  /** The reader has reached the list's end: once every slice is done, so is the fan-out. */
  readonly fanoutRead?: boolean;
  /** Until when (epoch ms) a fan-out worker holds the campaign; absent when nobody does. */
  readonly fanoutLeaseUntil?: number;
  /** The region that owns the campaign once it is sent or scheduled (domain/ownership.ts). */
  readonly ownerRegion?: string;
  /** Feedback counted in every region, summed (CampaignCounterStore). */
  readonly feedback?: FeedbackCounters;
  /** Emails SES accepted, as the senders counted them: the guard's denominator when Send events fall short. */
  readonly accepted?: number;
  readonly reputationGuard?: { reason: string; at: string };
  /** Set by a takeover: the watch re-enqueues every recipient not yet terminal. */
  readonly requeueAll?: boolean;
  /** Every region's latest control intent, applied or not (CampaignIntentStore). */
  readonly intents?: readonly ControlIntent[];
};

/** The fields of a campaign's content item (`#CONTENT`): written with the draft, frozen once it leaves draft. */
const CONTENT_FIELDS = ["subject", "html", "text"] as const;
type ContentField = (typeof CONTENT_FIELDS)[number];
export type CampaignContent = Pick<Campaign, ContentField>;
/** A campaign as its control item holds it: everything but its content. */
export type CampaignControl = Omit<StoredCampaign, ContentField>;

const isContentField = (field: string): field is ContentField =>
  (CONTENT_FIELDS as readonly string[]).includes(field);

/** A campaign cut into its control item's attributes and its content item's. */
export function splitContent(fields: object): {
  control: Record<string, unknown>;
  content: Record<string, unknown>;
} {
  const control: Record<string, unknown> = {};
  const content: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(fields) as [string, unknown][])
    (isContentField(field) ? content : control)[field] = value;
  return { control, content };
}

/** Which of `fields` live in the content item. */
export const contentFieldsOf = (fields: readonly string[]): string[] => fields.filter(isContentField);

/** The content held by an item (the content item, or a control item written before the split). */
export function toContent(item: object): CampaignContent {
  const { subject, html, text } = item as Partial<Record<ContentField, unknown>>;
  return {
    subject: typeof subject === "string" ? subject : "",
    html: typeof html === "string" ? html : "",
    ...(typeof text === "string" ? { text } : {}),
  };
}

/** The whole campaign: its control item with its content. */
export function withContent(control: CampaignControl, content: CampaignContent): StoredCampaign {
  // Only the content fields: `content` may be a whole campaign read earlier, its status stale.
  return { ...control, ...toContent(content) };
}

/** The attribute recording the `at` of the last intent of `region` the owner has applied. */
export const intentAppliedAttribute = (region: string): string => `intentApplied:${region}`;

/** region → `at` of its last applied intent. */
export function appliedIntents(campaign: StoredCampaign): Record<string, string> {
  const applied: Record<string, string> = {};
  for (const [key, value] of Object.entries(campaign))
    if (key.startsWith("intentApplied:")) applied[key.slice("intentApplied:".length)] = String(value);
  return applied;
}

/** Fields of a draft campaign that PATCH may set; `remove` names optional fields to clear. */
export interface CampaignChanges {
  readonly set: Readonly<Record<string, unknown>>;
  readonly remove: readonly string[];
}

/**
 * `SET #a0 = :a0, … REMOVE #d0, …` for an update: placeholders by position (attribute names such as
 * `intentApplied:us-east-1` are not tokens), spelled apart from statusIn's so both fit one request.
 * An empty expression when there is nothing to set or remove.
 */
export function assignments(
  set: Readonly<Record<string, unknown>>,
  remove: readonly string[] = [],
): { expression: string; names: Record<string, string>; values: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = Object.entries(set).map(([field, value], i) => {
    names[`#a${i}`] = field;
    values[`:a${i}`] = value;
    return `#a${i} = :a${i}`;
  });
  const removes = remove.map((field, i) => {
    names[`#d${i}`] = field;
    return `#d${i}`;
  });
  const expression = [
    sets.length ? `SET ${sets.join(", ")}` : "",
    removes.length ? `REMOVE ${removes.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join(" ");
  return { expression, names, values };
}

/** `#status IN (:s0, :s1, …)` over `statuses`. */
export function statusIn(statuses: readonly CampaignStatus[]): {
  expression: string;
  values: Record<string, string>;
} {
  const values = Object.fromEntries(statuses.map((status, i) => [`:s${i}`, status]));
  return { expression: `#status IN (${Object.keys(values).join(", ")})`, values };
}

/** The control item as a campaign without its content (content an item from before the split holds is dropped). */
export function toControl(item: Record<string, unknown>): CampaignControl {
  const { pk: _pk, sk: _sk, type: _type, ...fields } = item;
  return splitContent(fields).control as unknown as CampaignControl;
}
