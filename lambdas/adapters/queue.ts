import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { QueueMessage } from "../contracts/messages.ts";
import { chunk } from "../shared/concurrency.ts";
import { untilProcessed } from "../shared/retry.ts";

/** Publishes the messages of contracts/messages.ts. */
export class QueuePublisher {
  constructor(private readonly sqs: SQSClient) {}

  async send(queueUrl: string, body: QueueMessage, delaySeconds = 0): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(body),
        ...(delaySeconds > 0 ? { DelaySeconds: Math.min(900, Math.round(delaySeconds)) } : {}),
      }),
    );
  }

  /** Sends every body, ten per request, retrying the entries SQS reports as failed. */
  async sendAll(queueUrl: string, bodies: readonly QueueMessage[]): Promise<void> {
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
