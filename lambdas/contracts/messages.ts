import { z } from "zod";
import { webhookMessageSchema } from "./webhook-events.ts";

/**
 * The messages the functions exchange through SQS, as zod schemas: producers build them with the
 * inferred types, consumers validate every body on receive (a body that does not parse is a poison
 * message, never half-processed).
 */

/** Recipients per send message (≤ 50, well inside SQS's 256 KB message limit). */
export const RECIPIENTS_PER_MESSAGE = 50;

const attributeValue = z.union([z.string(), z.number(), z.boolean()]);

/** Fan-out queue: a campaign whose audience must be paged into send messages. */
/**
 * A fan-out message: without `slice`, for the reader, which cuts the campaign's list into slices;
 * with it, for the worker that writes slice `n` of fan-out run `run`.
 */
export const fanoutMessageSchema = z.object({
  campaignId: z.string().min(1),
  slice: z.object({ run: z.string().min(1), n: z.number().int().nonnegative() }).optional(),
});
export type FanoutMessage = z.infer<typeof fanoutMessageSchema>;

const sendRecipientSchema = z.object({
  email: z.string().min(1),
  attributes: z.record(z.string(), attributeValue).default({}),
});
export type SendRecipient = z.infer<typeof sendRecipientSchema>;

/** Send queue: up to 50 recipients of one campaign. */
export const sendMessageSchema = z.object({
  campaignId: z.string().min(1),
  recipients: z.array(sendRecipientSchema).max(RECIPIENTS_PER_MESSAGE),
  /** How many times these recipients were retried already (drives the backoff). */
  attempt: z.number().int().nonnegative().default(0),
  /** How many times in a row these recipients came back throttled (drives the throttled retry's delay). */
  throttles: z.number().int().nonnegative().default(0),
  /** A test send (POST /v1/campaigns/{id}/test): mailed now, outside the campaign's ledger and counters. */
  test: z.literal(true).optional(),
});
export type SendMessage = z.output<typeof sendMessageSchema>;

/** Audience-jobs queue: one chunk of a CSV import, or the erasure of a deleted list. */
export const audienceJobSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("import-chunk"),
    jobId: z.string().min(1),
    listId: z.string().min(1),
    /** Chunk number, 0-based; each is recorded once on the job. */
    chunk: z.number().int().nonnegative(),
    /** CSV rows this chunk accounts for (duplicates of later rows included). */
    rows: z.number().int().nonnegative(),
    subscribers: z.array(
      z.object({ email: z.string().min(1), attributes: z.record(z.string(), attributeValue) }),
    ),
  }),
  z.object({ kind: z.literal("erase-list"), listId: z.string().min(1) }),
]);
export type AudienceJob = z.infer<typeof audienceJobSchema>;

/** Anything a producer may put on one of the queues (defaults filled in on receive). */
export type QueueMessage =
  | z.input<typeof fanoutMessageSchema>
  | z.input<typeof sendMessageSchema>
  | z.input<typeof audienceJobSchema>
  | z.input<typeof webhookMessageSchema>;

/** The message in `body`, or undefined when it is not JSON or not of `schema`'s shape. */
export function decodeMessage<S extends z.ZodType>(schema: S, body: string): z.output<S> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
