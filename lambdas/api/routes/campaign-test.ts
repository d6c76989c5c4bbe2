import { z } from "zod";
import type { SendMessage } from "../../contracts/messages.ts";
import { NotFoundError } from "../../domain/errors.ts";
import type { RouteHandler } from "../context.ts";
import { json, jsonBody, validate } from "../http.ts";
import type { RouteDoc } from "../router.ts";
import { emailField } from "../schemas.ts";
import { pathId } from "./helpers.ts";

/** Addresses one test send may mail. */
const MAX_TEST_ADDRESSES = 10;

export const testSendSchema = z.strictObject({
  emails: z
    .array(emailField)
    .min(1)
    .max(MAX_TEST_ADDRESSES)
    .refine((v) => new Set(v).size === v.length, "addresses must not repeat"),
});

export const testSendResultSchema = z.object({
  queued: z.number().int().describe("addresses the test is on its way to, within seconds"),
  skipped: z
    .array(z.object({ index: z.number().int(), reason: z.literal("suppressed") }))
    .describe("addresses on the suppression list, by their place in `emails`: not mailed"),
});

/**
 * POST /v1/campaigns/{id}/test: mails the campaign as it is now (a draft too) to up to 10
 * addresses, "[Test] " before its subject, through the senders (sender/test-send.ts) and outside
 * its ledger and counters. Each address gets the merge data it has on the campaign's list, or none.
 * An address on the suppression list is skipped. The answer names no address (it may be kept as an
 * idempotency replay, which an erasure could not find).
 */
export const testCampaign: RouteHandler = async (event, params, deps) => {
  const id = pathId(params, "id", "campaign");
  const { emails } = validate(testSendSchema, jsonBody(event));
  const campaign = await deps.campaigns.get(id, true);
  if (!campaign || campaign.purpose) throw new NotFoundError("campaign");
  const suppressed = await deps.suppressions.suppressedOf(emails);
  const mailed = emails.filter((email) => !suppressed.has(email));
  const attributes = new Map(
    (await deps.subscribers.subscribersOf(campaign.listId, mailed)).map((s) => [s.email, s.attributes]),
  );
  if (mailed.length > 0)
    await deps.queue.send(deps.sendQueueUrl, {
      campaignId: id,
      recipients: mailed.map((email) => ({ email, attributes: attributes.get(email) ?? {} })),
      test: true,
    } satisfies Partial<SendMessage>);
  return json(202, {
    queued: mailed.length,
    skipped: emails.flatMap((email, index) =>
      suppressed.has(email) ? [{ index, reason: "suppressed" }] : [],
    ),
  });
};

export const docs = {
  testCampaign: {
    summary: "Mail the campaign now to up to 10 addresses, marked as a test, outside its ledger and counters",
    body: testSendSchema,
    responses: { 202: { description: "queued", schema: testSendResultSchema } },
  },
} satisfies Record<string, RouteDoc>;
