import { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { traced } from "./clients.ts";

export interface ManagedQueue {
  /** Short name used by the API: `fanout`, `send`. */
  readonly name: string;
  readonly url: string;
  readonly dlqUrl: string;
}

export interface QueueReport {
  readonly name: string;
  readonly depth: number;
  readonly inFlight: number;
  readonly delayed: number;
  /** Age of the oldest message in seconds; null when unknown (no data yet). */
  readonly oldestAgeSeconds: number | null;
  readonly dlq: { readonly depth: number; readonly oldestAgeSeconds: number | null };
}

export interface RedriveResult {
  readonly queue: string;
  readonly method: "StartMessageMoveTask" | "receive-send-delete";
  /** Messages moved (receive-send-delete), or null when SQS moves them asynchronously. */
  readonly moved: number | null;
  readonly taskHandle?: string;
}

/** Where the age of a queue's oldest message comes from. */
export interface OldestAgeSource {
  oldestAgeSeconds(queueUrl: string): Promise<number | null>;
}

/**
 * On AWS, SQS exposes the age of the oldest message only as the CloudWatch metric
 * ApproximateAgeOfOldestMessage (one-minute resolution).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
 */
export class CloudWatchOldestAge implements OldestAgeSource {
  constructor(private readonly cloudwatch: CloudWatchClient = traced(new CloudWatchClient({}))) {}

  async oldestAgeSeconds(queueUrl: string): Promise<number | null> {
    const queueName = queueUrl.split("/").pop() ?? "";
    const end = new Date();
    const out = await this.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(end.getTime() - 10 * 60_000),
        EndTime: end,
        ScanBy: "TimestampDescending",
        MetricDataQueries: [
          {
            Id: "age",
            MetricStat: {
              Metric: {
                Namespace: "AWS/SQS",
                MetricName: "ApproximateAgeOfOldestMessage",
                Dimensions: [{ Name: "QueueName", Value: queueName }],
              },
              Period: 60,
              Stat: "Maximum",
            },
          },
        ],
      }),
    );
    const value = out.MetricDataResults?.[0]?.Values?.[0];
    return value === undefined ? null : value;
  }
}

/**
 * Depths and oldest ages of the pipeline's queues, and DLQ redrive: StartMessageMoveTask on AWS,
 * receive-send-delete where it is not available (the local SQS emulator).
 */
export class QueueAdmin {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: readonly ManagedQueue[],
    private readonly ages: OldestAgeSource,
  ) {}

  names(): string[] {
    return this.queues.map((q) => q.name);
  }

  async report(): Promise<QueueReport[]> {
    return Promise.all(
      this.queues.map(async (queue) => {
        const [main, dlq, age, dlqAge] = await Promise.all([
          this.attributes(queue.url),
          this.attributes(queue.dlqUrl),
          this.age(queue.url),
          this.age(queue.dlqUrl),
        ]);
        return {
          name: queue.name,
          depth: main.ApproximateNumberOfMessages ?? 0,
          inFlight: main.ApproximateNumberOfMessagesNotVisible ?? 0,
          delayed: main.ApproximateNumberOfMessagesDelayed ?? 0,
          oldestAgeSeconds: age,
          dlq: { depth: dlq.ApproximateNumberOfMessages ?? 0, oldestAgeSeconds: dlqAge },
        };
      }),
    );
  }

  async redrive(name: string, deadlineMs: number): Promise<RedriveResult> {
    const queue = this.queues.find((q) => q.name === name);
    if (!queue) throw new Error(`unknown queue ${name}`);
    const [sourceArn, destinationArn] = await Promise.all([this.arn(queue.dlqUrl), this.arn(queue.url)]);
    try {
      const out = await this.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }),
      );
      return {
        queue: name,
        method: "StartMessageMoveTask",
        moved: null,
        ...(out.TaskHandle ? { taskHandle: out.TaskHandle } : {}),
      };
    } catch (error) {
      if (!isUnsupported(error)) throw error;
    }
    return { queue: name, method: "receive-send-delete", moved: await this.moveByHand(queue, deadlineMs) };
  }

  /** Receive from the DLQ, send to the queue, then delete: a crash in between duplicates, never loses. */
  private async moveByHand(queue: ManagedQueue, deadlineMs: number): Promise<number> {
    let moved = 0;
    while (Date.now() < deadlineMs) {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      const sent = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? "" })),
        }),
      );
      const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
      const done = messages.filter((_, i) => ok.has(String(i)));
      if (done.length > 0) {
        await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.dlqUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
          }),
        );
      }
      moved += done.length;
    }
    return moved;
  }

  private async attributes(url: string): Promise<Record<string, number>> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed",
        ],
      }),
    );
    return Object.fromEntries(Object.entries(out.Attributes ?? {}).map(([k, v]) => [k, Number(v)]));
  }

  private async age(url: string): Promise<number | null> {
    try {
      return await this.ages.oldestAgeSeconds(url);
    } catch {
      return null;
    }
  }

  private async arn(url: string): Promise<string> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
    );
    return out.Attributes?.QueueArn as string;
  }
}

function isUnsupported(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === "UnsupportedOperation" ||
    e?.name === "InvalidAction" ||
    e?.name === "UnknownOperationException" ||
    e?.$metadata?.httpStatusCode === 404 ||
    /not (supported|implemented)|unknown operation/i.test((error as Error)?.message ?? "")
  );
}

/**
 * The local SQS emulator (fauxqs) can be inspected without consuming messages; the local runtime
 * passes its address in STEADFAST_SQS_INSPECT_URL, since there is no CloudWatch locally.
 */
export class EmulatorOldestAge implements OldestAgeSource {
  constructor(private readonly baseUrl: string) {}

  async oldestAgeSeconds(queueUrl: string): Promise<number | null> {
    const name = queueUrl.split("/").pop() ?? "";
    const response = await fetch(`${this.baseUrl}/_fauxqs/queues/${encodeURIComponent(name)}`);
    if (!response.ok) return null;
    const state = (await response.json()) as {
      messages?: Record<
        string,
        ({ message?: { sentTimestamp?: number; attributes?: Record<string, string> } } & Record<
          string,
          unknown
        >)[]
      >;
    };
    let oldest = Number.POSITIVE_INFINITY;
    for (const list of Object.values(state.messages ?? {})) {
      for (const entry of list) {
        const m = (entry.message ?? entry) as { sentTimestamp?: number; attributes?: Record<string, string> };
        const sent = Number(m.sentTimestamp ?? m.attributes?.SentTimestamp);
        if (Number.isFinite(sent)) oldest = Math.min(oldest, sent);
      }
    }
    return Number.isFinite(oldest) ? Math.max(0, Math.round((Date.now() - oldest) / 1000)) : null;
  }
}
