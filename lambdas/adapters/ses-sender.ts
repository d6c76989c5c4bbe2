import { type SESv2Client, SendEmailCommand } from "@aws-sdk/client-sesv2";
import { classifySesError, type SesErrorClass } from "../domain/ses-errors.ts";

export interface OutgoingEmail {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  readonly campaignId: string;
  readonly replyTo?: string;
  readonly headers?: readonly { name: string; value: string }[];
}

export type SendOutcome =
  | { readonly ok: true; readonly region: string; readonly messageId: string; readonly failedOver: boolean }
  | {
      readonly ok: false;
      readonly errorClass: SesErrorClass;
      readonly region: string;
      readonly error: string;
    };

export interface RegionalClient {
  readonly region: string;
  readonly client: SESv2Client;
}

/**
 * Sends through an ordered pool of SESv2 clients, home region first. A region-class failure moves
 * on to the next region; throttling and permanent errors stop at once (a throttled region is
 * healthy, and a rejected message would be rejected everywhere).
 */
export class SesSender {
  constructor(
    private readonly pool: readonly RegionalClient[],
    private readonly configurationSet: string,
    /** Waits for the region's send rate to allow one more message (see domain/token-bucket.ts). */
    private readonly pace: (region: string) => Promise<void> = async () => {},
  ) {
    if (pool.length === 0) throw new Error("SesSender needs at least one region");
  }

  async send(email: OutgoingEmail): Promise<SendOutcome> {
    let last: SendOutcome | undefined;
    for (const [index, { region, client }] of this.pool.entries()) {
      try {
        await this.pace(region);
        const out = await client.send(
          new SendEmailCommand({
            FromEmailAddress: email.from,
            Destination: { ToAddresses: [email.to] },
            ...(email.replyTo ? { ReplyToAddresses: [email.replyTo] } : {}),
            ConfigurationSetName: this.configurationSet,
            EmailTags: [{ Name: "campaign", Value: email.campaignId }],
            Content: {
              Simple: {
                Subject: { Data: email.subject, Charset: "UTF-8" },
                Body: {
                  Html: { Data: email.html, Charset: "UTF-8" },
                  Text: { Data: email.text, Charset: "UTF-8" },
                },
                ...(email.headers?.length
                  ? { Headers: email.headers.map((h) => ({ Name: h.name, Value: h.value })) }
                  : {}),
              },
            },
          }),
        );
        if (!out.MessageId)
          throw Object.assign(new Error("SES returned no MessageId"), { name: "InternalFailure" });
        return { ok: true, region, messageId: out.MessageId, failedOver: index > 0 };
      } catch (error) {
        const errorClass = classifySesError(error);
        last = { ok: false, errorClass, region, error: describe(error) };
        if (errorClass !== "region") return last;
      }
    }
    return last as SendOutcome;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}
