import { z } from "zod";
import { CAMPAIGN_STATUSES } from "../domain/campaign.ts";
import { FOLLOW_UP_AUDIENCES, LINK_AUDIENCES } from "../domain/follow-up.ts";
import { normalizeEmail } from "../domain/email.ts";
import { RECIPIENT_STATUSES } from "../domain/ledger.ts";
import { unknownTags } from "../domain/render.ts";
import { segmentRuleSchema } from "../contracts/segment-rule.ts";

/**
 * Request schemas (validated at the edge) and response schemas (for the OpenAPI document).
 * Every object is strict: an unknown field is an error that names it, not something ignored.
 */

export const SUBSCRIBER_STATUSES = [
  "subscribed",
  "unsubscribed",
  "bounced",
  "complained",
  "pending",
] as const;
const API_KEY_SCOPES = ["admin", "write", "read"] as const;
/** Largest page a client may ask for. */
const MAX_PAGE = 1000;

export const emailField = z
  .string()
  .max(1000)
  .transform((value, ctx) => {
    const check = normalizeEmail(value);
    if (!check.ok) {
      ctx.addIssue({ code: "custom", message: check.error });
      return z.NEVER;
    }
    return check.email;
  })
  .meta({ format: "email", description: "trimmed; the domain is lower-cased; at most 254 characters" });

/** Subscriber attributes: a flat object of strings, numbers and booleans, at most 4 KB. */
const attributesSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, "attribute names are letters, digits, _ and -"),
    z.union([z.string(), z.number(), z.boolean()]),
  )
  .refine(
    (value) => Buffer.byteLength(JSON.stringify(value), "utf8") <= 4096,
    "attributes must be at most 4 KB",
  )
  .meta({ description: "flat object of strings, numbers and booleans; at most 4 KB as JSON" });

export const nameField = z
  .string()
  .trim()
  .min(1, "name is required")
  .max(200)
  .refine((v) => !/[\r\n]/.test(v), "name must not contain CR or LF");

/** Each subscriber is checked on its own so that one bad row is reported, not the whole batch. */
export const upsertSubscribersSchema = z.strictObject({
  subscribers: z
    .array(z.unknown())
    .min(1, "at least one subscriber")
    .max(1000, "at most 1000 subscribers per request")
    .meta({ items: { $ref: "#/components/schemas/SubscriberInput" } }),
});

export const subscriberSchema = z.strictObject({
  email: emailField,
  attributes: attributesSchema.optional(),
});

/** bounced and complained are set by SES feedback, not by clients. */
export const patchSubscriberSchema = z
  .strictObject({
    attributes: attributesSchema.optional(),
    status: z.enum(["subscribed", "unsubscribed"]).optional(),
    /**
     * The person opted in again: the only way an unsubscribed, bounced or complained address
     * becomes `subscribed` again. Recorded on the subscriber with the API key and the time.
     */
    resubscribe: z
      .strictObject({
        consent: z
          .string()
          .trim()
          .min(1, "say how the person opted in again")
          .max(500, "at most 500 characters"),
      })
      .optional(),
  })
  .refine((v) => v.attributes !== undefined || v.status !== undefined, "give attributes or status")
  .refine((v) => v.resubscribe === undefined || v.status === "subscribed", {
    message: 'resubscribe goes with "status": "subscribed"',
    path: ["resubscribe"],
  });

export const templateField = (field: string, max: number) =>
  z
    .string()
    .min(1, `${field} is required`)
    .max(max, `${field} must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const unknown = unknownTags(value);
      if (unknown.length > 0)
        ctx.addIssue({ code: "custom", message: `unknown merge tag {{${unknown[0]}}}` });
    });

/** Each part is bounded by the body limit here; together they must fit MAX_CONTENT_BYTES (413). */
export const MAX_PART = 1024 * 1024;
export const htmlField = templateField("html", MAX_PART);
export const subjectField = templateField("subject", 998).refine(
  (v) => !/[\r\n]/.test(v),
  "subject must not contain CR or LF",
);
const scheduledAtField = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone" })
  .transform((value) => new Date(value).toISOString());
export const idField = z.string().min(1).max(100);

/** Lists or segments a campaign leaves out: at most 10, none twice. */
const excludedIds = z
  .array(idField)
  .max(10)
  .refine((v) => new Set(v).size === v.length, "ids must not repeat");

/**
 * A campaign's content, or a template's version in its place (the latest when no version is
 * given; `subject` may replace the template's): the fields of a new campaign and of a follow-up.
 */
const contentChoiceFields = {
  templateId: idField.optional(),
  templateVersion: z.number().int().min(1).optional(),
  subject: subjectField.optional(),
  html: htmlField.optional(),
  text: templateField("text", MAX_PART).optional(),
  scheduledAt: scheduledAtField.optional(),
};

/** A template excludes html and text of one's own; a version needs its template. */
function checkTemplateChoice(
  value: { templateId?: string; templateVersion?: number; html?: string; text?: string },
  ctx: z.RefinementCtx,
): void {
  if (value.templateId !== undefined) {
    for (const field of ["html", "text"] as const)
      if (value[field] !== undefined)
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: "comes from the template: give one or the other",
        });
  } else if (value.templateVersion !== undefined)
    ctx.addIssue({ code: "custom", path: ["templateVersion"], message: "needs templateId" });
}

export const createCampaignSchema = z
  .strictObject({
    listId: idField,
    segmentId: idField.optional(),
    excludeListIds: excludedIds.optional(),
    excludeSegmentIds: excludedIds.optional(),
    from: emailField.optional(),
    replyTo: emailField.optional(),
    ...contentChoiceFields,
  })
  .superRefine((value, ctx) => {
    checkTemplateChoice(value, ctx);
    if (value.templateId !== undefined) return;
    for (const field of ["subject", "html"] as const)
      if (value[field] === undefined)
        ctx.addIssue({ code: "custom", path: [field], message: `${field} is required without templateId` });
  });

/** A follow-up: who of the campaign's recipients, and content in place of the campaign's. */
export const followUpSchema = z
  .strictObject({
    audience: z.enum(FOLLOW_UP_AUDIENCES),
    link: z
      .url({ protocol: /^https?$/ })
      .max(300)
      .optional(),
    ...contentChoiceFields,
  })
  .superRefine((value, ctx) => {
    if (value.link !== undefined && !LINK_AUDIENCES.includes(value.audience))
      ctx.addIssue({ code: "custom", path: ["link"], message: "applies to clicked and not_clicked only" });
    checkTemplateChoice(value, ctx);
  });

/** Only drafts can be changed; `null` clears an optional field. */
export const patchCampaignSchema = z
  .strictObject({
    listId: idField.optional(),
    segmentId: idField.nullable().optional(),
    excludeListIds: excludedIds.nullable().optional(),
    excludeSegmentIds: excludedIds.nullable().optional(),
    from: emailField.optional(),
    replyTo: emailField.nullable().optional(),
    subject: subjectField.optional(),
    html: htmlField.optional(),
    text: templateField("text", MAX_PART).nullable().optional(),
    scheduledAt: scheduledAtField.nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, "give at least one field to change");

export const previewSchema = z.strictObject({ email: emailField });

export const createApiKeySchema = z.strictObject({
  name: nameField,
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1, "at least one scope")
    .max(3)
    .refine((v) => new Set(v).size === v.length, "scopes must not repeat"),
});

const limitField = z.coerce
  .number("limit must be a number")
  .int()
  .min(1)
  .max(MAX_PAGE, `limit must be at most ${MAX_PAGE}`)
  .default(100);
const cursorField = z.string().max(2000).optional();

export const pageQuerySchema = z.strictObject({ limit: limitField, cursor: cursorField });
export const subscribersQuerySchema = z.strictObject({
  limit: limitField,
  cursor: cursorField,
  status: z.enum(SUBSCRIBER_STATUSES).optional(),
});
export const campaignsQuerySchema = z.strictObject({
  limit: limitField,
  cursor: cursorField,
  status: z.enum(CAMPAIGN_STATUSES).optional(),
});
export const recipientsQuerySchema = z.strictObject({
  status: z.enum(RECIPIENT_STATUSES).optional(),
  limit: limitField,
  cursor: cursorField,
});

export const idSchema = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "not a valid id");

// --- Responses (documentation) ------------------------------------------------------------------

export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().optional() });

/** The rule tree; its grammar is checked node by node (contracts/segment-rule.ts), described here. */
const ruleField = segmentRuleSchema.meta({
  type: "object",
  description:
    'a rule: { "all" | "any": [rule, …] }, { "not": rule }, { "attribute", "op": eq|ne|contains|exists|gt|gte|lt|lte|before|after, "value"? }, { "status" }, { "subscribedAt": { "after"?, "before"? } }; at most 8 levels',
});
export const createSegmentSchema = z.strictObject({ name: nameField, rule: ruleField });
export const patchSegmentSchema = z
  .strictObject({ name: nameField.optional(), rule: ruleField.optional() })
  .refine((v) => Object.keys(v).length > 0, "give name, rule or both");
export const segmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  rule: z
    .record(z.string(), z.unknown())
    .meta({ description: "the rule tree (see the README's segment language)" }),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const segmentPageSchema = page(segmentSchema);
export const segmentPreviewSchema = z.strictObject({ listId: idField });
export const segmentPreviewResultSchema = z.object({
  count: z.number().int(),
  sample: z.array(z.string()).max(10),
});

export const importJobSchema = z.object({
  id: z.string(),
  listId: z.string(),
  status: z.enum(["running", "completed", "failed"]),
  rows: z.number().int(),
  processed: z.number().int(),
  imported: z.number().int(),
  errors: z.array(z.object({ row: z.number().int(), error: z.string() })),
  moreErrors: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().optional(),
});

const countsSchema = z.record(z.string(), z.number().int());
export const campaignViewSchema = z.object({
  id: z.string(),
  listId: z.string(),
  segmentId: z.string().optional(),
  excludeListIds: z.array(z.string()).optional(),
  excludeSegmentIds: z.array(z.string()).optional(),
  /** The template version the content was copied from. */
  templateId: z.string().optional(),
  templateVersion: z.number().int().optional(),
  /** A follow-up's campaign and who of its recipients. */
  followUp: z
    .object({ campaignId: z.string(), audience: z.enum(FOLLOW_UP_AUDIENCES), link: z.string().optional() })
    .optional(),
  /** The version of each segment the campaign was sent with, by segment id. */
  segmentVersions: z.record(z.string(), z.number().int()).optional(),
  from: z.string(),
  replyTo: z.string().optional(),
  subject: z.string(),
  html: z.string(),
  text: z.string().optional(),
  scheduledAt: z.string().optional(),
  status: z.enum(CAMPAIGN_STATUSES),
  createdAt: z.string(),
  updatedAt: z.string(),
  sendRequestedAt: z.string().optional(),
  pausedAt: z.string().optional(),
  pausedReason: z.string().optional(),
  cancelledAt: z.string().optional(),
  completedAt: z.string().optional(),
  /** The region that acts on the campaign once it is sent or scheduled. */
  ownerRegion: z.string().optional(),
  counts: countsSchema.optional(),
  /** SES feedback, each counted once per recipient: sent, delivered, bounced, complained, opened, clicked, unsubscribed. */
  feedback: countsSchema.optional(),
});
export const campaignPageSchema = page(campaignViewSchema);
export const sendResultSchema = z.object({ id: z.string(), status: z.enum(CAMPAIGN_STATUSES) });
export const previewResultSchema = z.object({ subject: z.string(), html: z.string(), text: z.string() });
export const recipientPageSchema = page(
  z.object({
    email: z.string(),
    status: z.enum(RECIPIENT_STATUSES),
    attempts: z.number().int(),
    region: z.string().optional(),
    sesMessageId: z.string().optional(),
    error: z.string().optional(),
    reason: z.string().optional(),
    updatedAt: z.string().optional(),
  }),
);

const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  createdAt: z.string(),
});
export const createdApiKeySchema = apiKeySchema.extend({
  key: z.string().meta({ description: "the secret; shown only in this response" }),
});
export const apiKeyPageSchema = page(apiKeySchema);
