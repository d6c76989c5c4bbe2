import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { RUNBOOK } from "../runbook.ts";
import { QueueWithDlq } from "./queue-with-dlq.ts";
import type { SendingIdentity } from "./sending-identity.ts";
import { type FunctionCodeProps, pipelineCountAlarm, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";
import { METRIC } from "../../lambdas/contracts/metrics.ts";

/**
 * The sender's timings, together because they only work together. An invocation is time-boxed
 * within its timeout (it takes only what it can send in the time left and puts the rest back on the
 * queue at once). A claim's lease outlives the longest invocation, so a live sender never loses a
 * claim, and no more, so a dead sender's recipients are free again soon. The queue's visibility
 * timeout (6 × the timeout plus the batching window, as Lambda recommends: 121 s) outlives the lease:
 * a crashed batch comes back after about two minutes with its recipients claimable.
 */
const SENDER_TIMEOUT = Duration.seconds(20);
const SENDER_BATCHING_WINDOW = Duration.seconds(1);
/** Send messages per invocation; the function sizes its in-flight sends by it. */
const SENDER_BATCH_SIZE = 4;
const SEND_LEASE = SENDER_TIMEOUT.plus(Duration.seconds(10));

export interface SenderProps extends FunctionCodeProps {
  /** The identity and configuration set emails are sent with, in each region it covers. */
  readonly identity: SendingIdentity;
  /** Read only: the sender reads campaigns and the suppression list. */
  readonly audienceTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  /** Prefixes the enforcement alarm's name: "<alarmPrefix>-ses-enforcement". */
  readonly alarmPrefix: string;
  /** Key the one-click unsubscribe link of every email is signed with. */
  readonly unsubscribeKey: secretsmanager.ISecret;
  /** Days a ledger entry is kept before it expires. */
  readonly ledgerRetentionDays: number;
  /** Emails per second this region may send (its SES quota), shared by the concurrent senders. */
  readonly maxSendRate: number;
  /** Whether emails go through other regions only on failover, or also to spread the load. */
  readonly sendMode: "failover" | "spread";
  /**
   * Concurrent sender invocations (the SQS event source's maximum concurrency, 2..1000).
   * @default 2
   */
  readonly concurrency?: number;
  /**
   * How long the send queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly queueRetention?: Duration;
}

/**
 * The last stage of delivery: the send queue (up to 50 recipients a message, with its DLQ) and the
 * sender function that sends each recipient through SES, failing over to the other regions of the
 * identity, and records the outcome on the ledger.
 *
 * Call {@link setPublicApiUrl} once: every email carries an unsubscribe link to that API.
 */
export class Sender extends Construct {
  public readonly queue: QueueWithDlq;
  public readonly function: ServiceFunction;
  /** The queue's alarms and the function's. */
  public readonly alarms: readonly cloudwatch.Alarm[];
  private publicApiUrl: string | undefined;

  constructor(scope: Construct, id: string, props: SenderProps) {
    super(scope, id);
    const concurrency = props.concurrency ?? 2;

    // The sender puts recipients it cannot send yet (throttled, SES unavailable in every region,
    // campaign paused) back on the queue as a new, delayed message (exponential backoff with
    // jitter), so those retries do not count as receives. Only errors (a dependency failing, a
    // crash) redeliver the original message through its visibility timeout, with backoff.
    this.queue = new QueueWithDlq(this, "Queue", {
      consumerTimeout: SENDER_TIMEOUT,
      consumerMaxBatchingWindow: SENDER_BATCHING_WINDOW,
      maxReceiveCount: 10,
      retentionPeriod: props.queueRetention,
    });

    this.function = new ServiceFunction(this, "Function", {
      service: "sender",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: SENDER_TIMEOUT,
      memorySize: 1024,
      environment: {
        // Own region first: the sender fails over to the others in the identity's order.
        [ENV.sesRegions]: props.identity.sendRegions.join(","),
        [ENV.sesConfigurationSet]: props.identity.configurationSet.configurationSetName,
        [ENV.ledgerRetentionDays]: String(props.ledgerRetentionDays),
        [ENV.maxSendRate]: String(props.maxSendRate),
        [ENV.sendMode]: props.sendMode,
        // Each concurrent sender takes MAX_SEND_RATE / SENDER_CONCURRENCY, keeping the region's
        // total under its SES quota.
        [ENV.senderConcurrency]: String(concurrency),
        [ENV.sendLeaseSeconds]: String(SEND_LEASE.toSeconds()),
        [ENV.sendBatchSize]: String(SENDER_BATCH_SIZE),
      },
    });
    // Read and write: the sender pauses a campaign when SES pauses or suspends the account.
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    this.function.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    // Besides its event source, the sender sets a failed message's visibility as its backoff, and
    // puts the recipients it retries back on the queue as new messages.
    this.function.bindQueue(ENV.sendQueueUrl, this.queue, "consume");
    this.function.bindQueue(ENV.sendQueueUrl, this.queue, "send");
    this.function.bindSecret(ENV.unsubscribeSecretId, props.unsubscribeKey);
    props.identity.grantSend(this.function);
    this.queue.addConsumer(
      this.function.function,
      {
        batchSize: SENDER_BATCH_SIZE,
        maxBatchingWindow: SENDER_BATCHING_WINDOW,
        maxConcurrency: concurrency,
      },
      this.function.alias,
    );

    const enforcementAlarm = pipelineCountAlarm(this, "SesEnforcementAlarm", {
      service: "sender",
      metricName: METRIC.sesEnforcement,
      period: Duration.minutes(1),
      alarmName: `${props.alarmPrefix}-ses-enforcement`,
      description:
        "SES answered SendingPaused or AccountSuspended: sending is paused for the account; campaigns were paused",
      runbook: RUNBOOK.sesEnforcement,
    });
    this.alarms = [...this.queue.alarms, this.function.errorsAlarm, enforcementAlarm];
    this.node.addValidation({
      validate: () =>
        this.publicApiUrl === undefined
          ? [`Sender ${this.node.path}: call setPublicApiUrl(): every email needs an unsubscribe link`]
          : [],
    });
  }

  /**
   * The base URL of unsubscribe links: this region's API (RFC 8058 one-click unsubscribe needs an
   * HTTPS URL, which an API Gateway stage URL is).
   */
  public setPublicApiUrl(url: string): void {
    if (this.publicApiUrl !== undefined) {
      throw new Error(`Sender ${this.node.path}: the public API URL is set already`);
    }
    this.publicApiUrl = url;
    this.function.function.addEnvironment(ENV.publicApiUrl, url);
  }
}
