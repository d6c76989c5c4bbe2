import { z } from "zod";

/**
 * The segment language: a JSON tree that people and tools write by hand. One home for its grammar:
 * the API validates rules with `segmentRuleSchema`, the fan-out and the preview evaluate them with
 * domain/segment.ts.
 *
 *   rule      := group | not | attribute | status | date | engagement
 *   group     := { "all": [rule, …] } | { "any": [rule, …] }         (1 to 50 rules each)
 *   not       := { "not": rule }
 *   attribute := { "attribute": name, "op": op, "value"?: string | number | boolean }
 *   status    := { "status": "subscribed" | "unsubscribed" | "bounced" | "complained" }
 *   date      := { "subscribedAt": { "after"?: date, "before"?: date } }
 *   engagement := { "engagement": "received" | "opened" | "clicked", "campaignId"?: id,
 *                   "withinDays"?: 1…365 }
 *
 * Operators: `eq`, `ne`, `contains` (strings), `exists` (no value), `gt`, `gte`, `lt`, `lte`
 * (numbers, or strings compared as text), `before`, `after` (dates: ISO 8601). A tree is at most
 * MAX_DEPTH deep. An engagement test reads the delivery ledger: the address got (`received`: SES
 * reported the delivery), opened or clicked that campaign, or any campaign when none is named;
 * within the last `withinDays` days when given (counted from the fan-out), else within the
 * ledger's retention.
 */
const ATTRIBUTE_OPS = [
  "eq",
  "ne",
  "contains",
  "exists",
  "gt",
  "gte",
  "lt",
  "lte",
  "before",
  "after",
] as const;
type AttributeOp = (typeof ATTRIBUTE_OPS)[number];
const SEGMENT_STATUSES = ["subscribed", "unsubscribed", "bounced", "complained"] as const;

export type SegmentRule =
  | { readonly all: readonly SegmentRule[] }
  | { readonly any: readonly SegmentRule[] }
  | { readonly not: SegmentRule }
  | { readonly attribute: string; readonly op: AttributeOp; readonly value?: string | number | boolean }
  | { readonly status: (typeof SEGMENT_STATUSES)[number] }
  | { readonly subscribedAt: { readonly after?: string; readonly before?: string } }
  | {
      readonly engagement: EngagementKind;
      readonly campaignId?: string;
      readonly withinDays?: number;
    };

const ENGAGEMENT_KINDS = ["received", "opened", "clicked"] as const;
export type EngagementKind = (typeof ENGAGEMENT_KINDS)[number];

const MAX_DEPTH = 8;
const MAX_CHILDREN = 50;

const isoDate = z
  .string()
  .max(40)
  .refine((value) => !Number.isNaN(Date.parse(value)), "must be an ISO 8601 date, e.g. 2026-01-01");

const attributeTest = z
  .strictObject({
    attribute: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, "attribute names are letters, digits, _ and -"),
    op: z.enum(ATTRIBUTE_OPS),
    value: z.union([z.string().max(1000), z.number(), z.boolean()]).optional(),
  })
  .superRefine((test, ctx) => {
    if (test.op === "exists") {
      if (test.value !== undefined)
        ctx.addIssue({ code: "custom", path: ["value"], message: "exists takes no value" });
      return;
    }
    if (test.value === undefined) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `${test.op} needs a value` });
      return;
    }
    if (test.op === "contains" && typeof test.value !== "string")
      ctx.addIssue({ code: "custom", path: ["value"], message: "contains takes a string" });
    if ((test.op === "before" || test.op === "after") && Number.isNaN(Date.parse(String(test.value))))
      ctx.addIssue({ code: "custom", path: ["value"], message: `${test.op} takes an ISO 8601 date` });
  });

const dateTest = z.strictObject({
  subscribedAt: z
    .strictObject({ after: isoDate.optional(), before: isoDate.optional() })
    .refine((range) => range.after !== undefined || range.before !== undefined, "name after, before or both"),
});

const statusTest = z.strictObject({ status: z.enum(SEGMENT_STATUSES) });

const engagementTest = z.strictObject({
  engagement: z.enum(ENGAGEMENT_KINDS),
  campaignId: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, "not a valid campaign id")
    .optional(),
  withinDays: z.number().int().min(1).max(365).optional(),
});

/**
 * A rule, checked node by node: an invalid node's error names its path (`rule.all.1.op`). The node's
 * kind is told by its key, so the error is about that kind rather than "matches no alternative".
 */
export const segmentRuleSchema: z.ZodType<SegmentRule> = z.lazy(() => ruleAt(1));

function ruleAt(depth: number): z.ZodType<SegmentRule> {
  const child = z.lazy(() => ruleAt(depth + 1));
  const children = z.array(child).min(1).max(MAX_CHILDREN);
  return z.unknown().transform((node, ctx): SegmentRule => {
    if (depth > MAX_DEPTH) {
      ctx.addIssue({ code: "custom", message: `a rule is at most ${MAX_DEPTH} levels deep` });
      return z.NEVER;
    }
    const schema = kindOf(node, children, child);
    if (!schema) {
      ctx.addIssue({
        code: "custom",
        message: "a rule is one of all, any, not, attribute, status, subscribedAt or engagement",
      });
      return z.NEVER;
    }
    const parsed = schema.safeParse(node);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: "custom", path: issue.path });
      return z.NEVER;
    }
    return parsed.data as SegmentRule;
  });
}

function kindOf(node: unknown, children: z.ZodType, child: z.ZodType): z.ZodType | undefined {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
  if ("all" in node) return z.strictObject({ all: children });
  if ("any" in node) return z.strictObject({ any: children });
  if ("not" in node) return z.strictObject({ not: child });
  if ("attribute" in node) return attributeTest;
  if ("status" in node) return statusTest;
  if ("subscribedAt" in node) return dateTest;
  if ("engagement" in node) return engagementTest;
  return undefined;
}
