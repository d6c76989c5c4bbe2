import { z } from "zod";
import { CONFIRM_TAG, OPT_IN_MODES } from "../domain/opt-in.ts";
import { unknownTags, usesTag } from "../domain/render.ts";
import { nameField, page, SUBSCRIBER_STATUSES } from "./schemas.ts";

/**
 * The audience's schemas: lists (their opt-in mode and confirmation email), subscribers as the API
 * shows them (with their consent), and a person's export and erasure. The rest is in schemas.ts.
 */

/** A confirmation email's parts: the same merge tags as campaigns, plus `{{confirmUrl}}`. */
const confirmationPart = (field: string, max: number) =>
  z
    .string()
    .min(1, `${field} is required`)
    .max(max, `${field} must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const unknown = unknownTags(value, [CONFIRM_TAG]);
      if (unknown.length > 0)
        ctx.addIssue({ code: "custom", message: `unknown merge tag {{${unknown[0]}}}` });
    });
const confirmationField = z
  .strictObject({
    subject: confirmationPart("subject", 998)
      .refine((v) => !/[\r\n]/.test(v), "subject must not contain CR or LF")
      .optional(),
    html: confirmationPart("html", 20_000)
      .refine((v) => usesTag(v, CONFIRM_TAG), "html must hold the confirmation link, {{confirmUrl}}")
      .optional(),
    text: confirmationPart("text", 20_000)
      .refine((v) => usesTag(v, CONFIRM_TAG), "text must hold the confirmation link, {{confirmUrl}}")
      .optional(),
    expiresInHours: z
      .number()
      .int()
      .min(1)
      .max(30 * 24)
      .optional(),
  })
  .meta({
    description: "the confirmation email of a double opt-in list; any part left out keeps its default",
  });
const optInField = z
  .enum(OPT_IN_MODES)
  .meta({ description: "double: new subscribers are pending until they confirm by email" });

export const createListSchema = z.strictObject({
  name: nameField,
  optIn: optInField.optional(),
  confirmation: confirmationField.optional(),
});
export const patchListSchema = z
  .strictObject({
    name: nameField.optional(),
    optIn: optInField.optional(),
    confirmation: confirmationField.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, "give name, optIn or confirmation");

export const listSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  optIn: z.enum(OPT_IN_MODES),
  confirmation: z
    .object({
      version: z.number().int(),
      subject: z.string(),
      html: z.string(),
      text: z.string().optional(),
      expiresInHours: z.number().int(),
    })
    .optional()
    .meta({
      description: "double opt-in lists: the confirmation email now (its version goes up on every change)",
    }),
  subscriberCount: z.number().int().optional(),
});
export const listPageSchema = page(listSchema);

const consentSchema = z.object({
  source: z.enum(["api", "import", "double-opt-in"]),
  at: z.string(),
  by: z.string().optional().meta({ description: "the API key id (api)" }),
  importId: z.string().optional(),
  ip: z.string().optional().meta({ description: "double opt-in: the confirming request's address" }),
  userAgent: z.string().optional(),
  confirmation: z
    .object({ version: z.number().int(), subject: z.string(), text: z.string() })
    .optional()
    .meta({ description: "double opt-in: the confirmation email the person confirmed, as it read" }),
});
export const subscriberViewSchema = z.object({
  email: z.string(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  status: z.enum(SUBSCRIBER_STATUSES),
  createdAt: z.string(),
  updatedAt: z.string(),
  resubscribed: z
    .object({ at: z.string(), by: z.string().meta({ description: "API key id" }), consent: z.string() })
    .optional()
    .meta({ description: "the last time an opted-out address was subscribed again, by whom, why" }),
  consent: consentSchema
    .extend({ requested: consentSchema.optional() })
    .optional()
    .meta({ description: "how the subscription was obtained (proof of consent)" }),
});
export const subscriberPageSchema = page(subscriberViewSchema);
const suppressionViewSchema = z.object({
  email: z.string().meta({ description: "the address, or sha256:<hex> once its person was erased" }),
  reason: z.string(),
  createdAt: z.string(),
});
export const personSchema = z.object({
  email: z.string(),
  subscriptions: z.array(subscriberViewSchema.extend({ listId: z.string(), listName: z.string() })),
  deliveries: z
    .array(z.record(z.string(), z.unknown()))
    .meta({ description: "ledger records: campaign, status, region, SES message id, events" }),
  suppression: suppressionViewSchema.nullable(),
});
export const personErasureSchema = z.object({
  subscriptions: z.number().int(),
  deliveries: z.number().int(),
  suppressionInClear: z.boolean(),
});
export const resendResultSchema = z.object({
  status: z.literal("pending"),
  confirmationCampaign: z.string().optional(),
});
export const upsertResultSchema = z.object({
  upserted: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), email: z.string().nullable(), error: z.string() })),
  confirmationsRequested: z
    .number()
    .int()
    .optional()
    .meta({ description: "double opt-in lists: new subscribers, pending, each mailed a confirmation" }),
  confirmationCampaigns: z.array(z.string()).optional(),
});
