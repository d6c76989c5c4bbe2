import { z } from "zod";

/**
 * The segment language: a JSON tree that people and tools write by hand. One home for its grammar:
 * the API validates rules with `segmentRuleSchema`, the fan-out and the preview evaluate them with
 * domain/segment.ts.
 *
 *   rule      := group | not | attribute | status | date
 *   group     := { "all": [rule, …] } | { "any": [rule, …] }         (1 to 50 rules each)
 *   not       := { "not": rule }
 *   attribute := { "attribute": name, "op": op, "value"?: string | number | boolean }
 *   status    := { "status": "subscribed" | "unsubscribed" | "bounced" | "complained" }
 *   date      := { "subscribedAt": { "after"?: date, "before"?: date } }
 *
 * Operators: `eq`, `ne`, `contains` (strings), `exists` (no value), `gt`, `gte`, `lt`, `lte`
 * (numbers, or strings compared as text), `before`, `after` (dates: ISO 8601). A tree is at most
 * MAX_DEPTH deep.
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
  | { readonly subscribedAt: { readonly after?: string; readonly before?: string } };

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
        message: "a rule is one of all, any, not, attribute, status or subscribedAt",
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
  return undefined;
}
