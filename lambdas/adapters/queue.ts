import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { chunk } from "../shared/concurrency.ts";
import { untilProcessed } from "../shared/retry.ts";

/** Messages the functions exchange through SQS. */
export interface FanoutMessage {
  readonly campaignId: string;
}

export interface SendRecipient {
  readonly email: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
}

export interface SendMessage {
  readonly campaignId: string;
  readonly recipients: readonly SendRecipient[];
  /** How many times these recipients were retried already (drives the backoff). */
  readonly attempt?: number;
}

/** Recipients per send message (ARCHITECTURE §4: ≤ 50, well inside SQS's 256 KB message limit). */
export const RECIPIENTS_PER_MESSAGE = 50;

export class QueuePublisher {
  constructor(private readonly sqs: SQSClient) {}

  async send(queueUrl: string, body: unknown, delaySeconds = 0): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(body),
        ...(delaySeconds > 0 ? { DelaySeconds: Math.min(900, Math.round(delaySeconds)) } : {}),
      }),
    );
  }

  /** Sends every body, ten per request, retrying the entries SQS reports as failed. */
  async sendAll(queueUrl: string, bodies: readonly unknown[]): Promise<void> {
    for (const group of chunk(bodies, 10)) {
      const entries = group.map((body, i) => ({ Id: String(i), MessageBody: JSON.stringify(body) }));
      await untilProcessed(`SendMessageBatch to ${queueUrl}`, entries, async (pending) => {
        const out = await this.sqs.send(
          new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [...pending] }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        return pending.filter((e) => failed.has(e.Id));
      });
    }
  }
}
