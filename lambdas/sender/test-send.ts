import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { SesSender } from "../adapters/ses-sender.ts";
import type { SendMessage, SendRecipient } from "../contracts/messages.ts";
import { composeEmail } from "./compose.ts";

export interface TestSendDeps {
  readonly campaigns: Pick<CampaignStore, "get">;
  readonly ses: Pick<SesSender, "send">;
}

/** What a test message came to: the recipients to try again (SES throttled or unavailable), and counts. */
export interface TestSendResult {
  readonly retry: SendRecipient[];
  readonly sent: number;
  readonly failed: number;
}

/** The mark a test email carries in its subject. */
const TEST_SUBJECT_PREFIX = "[Test] ";

/**
 * Mails a test message's addresses the campaign as it is now (POST /v1/campaigns/{id}/test), the
 * subject marked as a test, through the same SES regions, failover and rate as the campaign's
 * emails, but outside its ledger and counters: nothing is recorded (the API checked the
 * suppression list when it took the request), and the emails are tagged so their SES events are
 * not either. A campaign deleted since has nothing to send.
 */
export async function sendTests(deps: TestSendDeps, message: SendMessage): Promise<TestSendResult> {
  const campaign = await deps.campaigns.get(message.campaignId);
  const result = { retry: [] as SendRecipient[], sent: 0, failed: 0 };
  if (!campaign) return result;
  for (const recipient of message.recipients) {
    const email = composeEmail(campaign, recipient);
    const outcome = await deps.ses.send({
      ...email,
      subject: `${TEST_SUBJECT_PREFIX}${email.subject}`,
      test: true,
    });
    if (outcome.ok) result.sent++;
    else if (outcome.errorClass === "throttled" || outcome.errorClass === "region")
      result.retry.push(recipient);
    else result.failed++;
  }
  return result;
}
