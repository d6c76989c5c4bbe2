import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource, type SqsEventSourceProps } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { acknowledge } from "../nag.ts";
import { RUNBOOK, type RunbookSection, withRunbook } from "../runbook.ts";

/**
 * Alarms as soon as one message waits in `queue`: for queues that only hold what failed (a DLQ, a
 * function's on-failure destination), where any message needs a person.
 */
export function anyMessageAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  description: string,
  section: RunbookSection = RUNBOOK.deadLetters,
): cloudwatch.Alarm {
  return queue
    .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" })
    .createAlarm(scope, id, {
      alarmDescription: withRunbook(description, section),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
}

/**
 * Lambda recommends a queue visibility timeout of at least six times the function timeout
 * (plus the batching window), so a message is not redelivered while a throttled or retried
 * invocation still holds it.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig
 */
const VISIBILITY_TO_TIMEOUT_RATIO = 6;

// SQS hard limit. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
const MAX_VISIBILITY_TIMEOUT = Duration.hours(12);

export interface QueueWithDlqProps {
  /** Timeout of the Lambda function that consumes the queue; sizes the visibility timeout. */
  readonly consumerTimeout: Duration;
  /**
   * Batching window of the consumer's event source mapping; added to the visibility timeout.
   * @default Duration.seconds(0)
   */
  readonly consumerMaxBatchingWindow?: Duration;
  /**
   * Visibility timeout of the queue. Must be >= 6 × consumerTimeout + consumerMaxBatchingWindow.
   * @default 6 × consumerTimeout + consumerMaxBatchingWindow
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives before a message is moved to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long the main queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly retentionPeriod?: Duration;
  /**
   * Alarm when the oldest message of the main queue is older than this.
   * @default Duration.minutes(15)
   */
  readonly maxMessageAge?: Duration;
}

/**
 * An SQS queue with its dead-letter queue and the two alarms that say the pipeline is stuck:
 * anything in the DLQ, and a main queue whose oldest message is too old.
 * Both queues use SQS-managed encryption and deny non-TLS requests.
 */
export class QueueWithDlq extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly messageAgeAlarm: cloudwatch.Alarm;
  public readonly alarms: readonly cloudwatch.Alarm[];
  private readonly consumerTimeout: Duration;
  private readonly consumerMaxBatchingWindow: Duration;

  constructor(scope: Construct, id: string, props: QueueWithDlqProps) {
    super(scope, id);
    this.consumerTimeout = props.consumerTimeout;
    this.consumerMaxBatchingWindow = props.consumerMaxBatchingWindow ?? Duration.seconds(0);
    const visibilityTimeout = this.validateVisibilityTimeout(props.visibilityTimeout);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw new Error(`QueueWithDlq ${this.node.path}: maxReceiveCount must be an integer in 1..1000`);
    }

    // A standard queue's message keeps its original enqueue timestamp when it is moved to the DLQ,
    // so the DLQ retains messages for the SQS maximum to leave time to inspect and redrive them.
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, "Queue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    acknowledge(this.deadLetterQueue, {
      "Serverless::Serverless-SQSRedrivePolicy":
        "A dead-letter queue is where failed messages end; any message in it alarms",
    });
    this.deadLetterAlarm = anyMessageAlarm(
      this,
      "DeadLetterAlarm",
      this.deadLetterQueue,
      `Messages are waiting in the dead-letter queue of ${this.node.path}`,
    );
    const maxMessageAge = props.maxMessageAge ?? Duration.minutes(15);
    this.messageAgeAlarm = this.queue
      .metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: "Maximum" })
      .createAlarm(this, "MessageAgeAlarm", {
        alarmDescription: withRunbook(
          `Oldest message of ${this.node.path} is older than ${maxMessageAge.toHumanString()}`,
          RUNBOOK.queueAge,
        ),
        threshold: maxMessageAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.alarms = [this.deadLetterAlarm, this.messageAgeAlarm];
  }

  /**
   * Subscribes `fn` to the queue with partial batch responses enabled, invoked `via` an alias of
   * it if given (the one its deployments shift). Throws if the function or its batching window
   * outlast what the visibility timeout was sized for.
   */
  public addConsumer(
    fn: lambda.Function,
    options: SqsEventSourceProps = {},
    via: lambda.IFunction = fn,
  ): void {
    const timeout = fn.timeout ?? Duration.seconds(3);
    if (timeout.toSeconds() > this.consumerTimeout.toSeconds()) {
      throw new Error(
        `QueueWithDlq ${this.node.path}: consumer ${fn.node.path} timeout (${timeout.toSeconds()} s) ` +
          `exceeds consumerTimeout (${this.consumerTimeout.toSeconds()} s) the visibility timeout was sized for`,
      );
    }
    const window = options.maxBatchingWindow ?? Duration.seconds(0);
    if (window.toSeconds() > this.consumerMaxBatchingWindow.toSeconds()) {
      throw new Error(
        `QueueWithDlq ${this.node.path}: maxBatchingWindow (${window.toSeconds()} s) exceeds ` +
          `consumerMaxBatchingWindow (${this.consumerMaxBatchingWindow.toSeconds()} s)`,
      );
    }
    // Partial batch responses: only the failed messages return to the queue.
    // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    via.addEventSource(new SqsEventSource(this.queue, { ...options, reportBatchItemFailures: true }));
  }

  private validateVisibilityTimeout(explicit: Duration | undefined): Duration {
    const timeout = this.consumerTimeout.toSeconds();
    const window = this.consumerMaxBatchingWindow.toSeconds();
    const minimum = VISIBILITY_TO_TIMEOUT_RATIO * timeout + window;
    const visibility = explicit?.toSeconds() ?? minimum;
    if (visibility < minimum) {
      throw new Error(
        `QueueWithDlq ${this.node.path}: visibilityTimeout (${visibility} s) must be >= ` +
          `${VISIBILITY_TO_TIMEOUT_RATIO} × consumerTimeout (${timeout} s)` +
          (window > 0 ? ` + consumerMaxBatchingWindow (${window} s)` : "") +
          ` = ${minimum} s; see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html`,
      );
    }
    if (visibility > MAX_VISIBILITY_TIMEOUT.toSeconds()) {
      throw new Error(
        `QueueWithDlq ${this.node.path}: visibilityTimeout (${visibility} s) exceeds the SQS maximum of 43200 s`,
      );
    }
    return Duration.seconds(visibility);
  }
}
