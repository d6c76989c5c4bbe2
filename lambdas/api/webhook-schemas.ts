import { z } from "zod";
import { WEBHOOK_EVENT_TYPES } from "../contracts/webhook-events.ts";
import { page } from "./schemas.ts";

/** Webhook requests and answers (validated at the edge; documented in the OpenAPI document). */

const eventsField = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .min(1)
  .refine((v) => new Set(v).size === v.length, "event types must not repeat");
const secretField = z.string().min(16, "at least 16 characters").max(200);
const urlField = z.string().min(1).max(2000);

export const createWebhookSchema = z.strictObject({
  url: urlField,
  events: eventsField,
  secret: secretField,
});

/**
 * Changes an endpoint. A new `secret` becomes the one deliveries are signed with, and the previous
 * one still signs them too until the next change (a rotation: receivers accept either meanwhile).
 * `status: "enabled"` turns a disabled endpoint back on.
 */
export const patchWebhookSchema = z
  .strictObject({
    url: urlField.optional(),
    events: eventsField.optional(),
    secret: secretField.optional(),
    status: z.enum(["enabled", "disabled"]).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, "give at least one field to change");

export const replaySchema = z.strictObject({
  since: z.iso
    .datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone" })
    .transform((value) => new Date(value).toISOString()),
});

export const replayAcceptedSchema = z.object({
  /** The replay's deliveries carry it in the log. */
  replayId: z.string(),
  since: z.string(),
});

export const webhookViewSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  status: z.enum(["enabled", "disabled"]),
  /** Whether deliveries are signed with two secrets (a rotation in progress). */
  secretRotating: z.boolean(),
  failingSince: z.string().optional(),
  disabledReason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const webhookPageSchema = page(webhookViewSchema);

export const deliveryPageSchema = page(
  z.object({
    eventId: z.string(),
    type: z.enum(WEBHOOK_EVENT_TYPES),
    /** Set on a replay's delivery of the event. */
    replayId: z.string().optional(),
    createdAt: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    firstAttemptAt: z.string().optional(),
    lastAttemptAt: z.string().optional(),
    nextAttemptAt: z.string().optional(),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional(),
    deliveredAt: z.string().optional(),
  }),
);
