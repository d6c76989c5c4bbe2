import { z } from "zod";
import { normalizeEmail } from "../domain/email.ts";
import { RECIPIENT_STATUSES } from "../domain/ledger.ts";
import { unknownTags } from "../domain/render.ts";

const emailField = z.string().transform((value, ctx) => {
  const check = normalizeEmail(value);
  if (!check.ok) {
    ctx.addIssue({ code: "custom", message: check.error });
    return z.NEVER;
  }
  return check.email;
});

/** Subscriber attributes: a flat object of strings, numbers and booleans, at most 4 KB. */
export const attributesSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, "attribute names are letters, digits, _ and -"),
    z.union([z.string(), z.number(), z.boolean()]),
  )
  .refine(
    (value) => Buffer.byteLength(JSON.stringify(value), "utf8") <= 4096,
    "attributes must be at most 4 KB",
  );

export const createListSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1, "name is required")
    .max(200)
    .refine((v) => !/[\r\n]/.test(v), "name must not contain CR or LF"),
});

/** Each subscriber is checked on its own so that one bad row is reported, not the whole batch. */
export const upsertSubscribersSchema = z.strictObject({
  subscribers: z
    .array(z.unknown())
    .min(1, "at least one subscriber")
    .max(1000, "at most 1000 subscribers per request"),
});

export const subscriberSchema = z.strictObject({
  email: emailField,
  attributes: attributesSchema.optional(),
});

const templateField = (field: string, max: number) =>
  z
    .string()
    .min(1, `${field} is required`)
    .max(max, `${field} must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const unknown = unknownTags(value);
      if (unknown.length > 0)
        ctx.addIssue({ code: "custom", message: `unknown merge tag {{${unknown[0]}}}` });
    });

export const createCampaignSchema = z.strictObject({
  listId: z.string().min(1).max(100),
  from: emailField.optional(),
  subject: templateField("subject", 998).refine(
    (v) => !/[\r\n]/.test(v),
    "subject must not contain CR or LF",
  ),
  html: templateField("html", 512 * 1024),
  text: templateField("text", 512 * 1024).optional(),
});

export const recipientsQuerySchema = z.strictObject({
  status: z.enum(RECIPIENT_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(2000).optional(),
});

export const idSchema = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "not a valid id");
