import { z } from "zod";

/**
 * Outbound webhook events: the catalogue, the body every endpoint receives, and the messages of the
 * webhooks queue. One home for the contract: producers (sender, feedback) build events with these
 * names, the API validates subscriptions against them, the webhooks function delivers them.
 */
export const WEBHOOK_EVENT_TYPES = [
  "recipient.sent",
  "recipient.delivered",
  "recipient.bounced",
  "recipient.complained",
  "recipient.opened",
  "recipient.clicked",
  "recipient.unsubscribed",
  "recipient.failed",
  "recipient.suppressed",
  "campaign.status_changed",
  "subscriber.created",
  "subscriber.updated",
  "subscriber.unsubscribed",
  "import.completed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * The body of a delivery: `id` is derived from the fact it reports (the same fact is always the
 * same id, however often it is published), `createdAt` is when the fact happened.
 */
const webhookEventSchema = z.object({
  id: z.string().min(1).max(100),
  type: z.enum(WEBHOOK_EVENT_TYPES),
  createdAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

/**
 * Webhooks queue: events to deliver to every endpoint that takes them, one delivery to try again,
 * or (a page of) a replay: every event since a time delivered to one endpoint again.
 */
export const webhookMessageSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("events"), events: z.array(webhookEventSchema).min(1).max(100) }),
  z.object({
    kind: z.literal("retry"),
    webhookId: z.string().min(1),
    /** The delivery's log item (sort key), which holds the event. */
    delivery: z.string().min(1),
  }),
  z.object({
    kind: z.literal("replay"),
    webhookId: z.string().min(1),
    replayId: z.string().min(1),
    since: z.string().min(1),
    /** When the replay was asked for: later events had their first delivery since. */
    until: z.string().min(1),
    /** Where the previous page of the replay stopped. */
    cursor: z.string().optional(),
  }),
]);
export type WebhookMessage = z.infer<typeof webhookMessageSchema>;
