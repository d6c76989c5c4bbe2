import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { ENV } from "../../lambdas/contracts/env.ts";
import { METRIC } from "../../lambdas/contracts/metrics.ts";
import { RUNBOOK } from "../runbook.ts";
import { QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, pipelineCountAlarm, ServiceFunction } from "./service-function.ts";

/** A batch of deliveries, each given up on after 10 s: well inside. */
const WEBHOOKS_TIMEOUT = Duration.seconds(60);

export interface WebhooksProps extends FunctionCodeProps {
  readonly audienceTable: dynamodb.ITableV2;
  readonly alarmPrefix: string;
  /**
   * How long the queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly queueRetention?: Duration;
}

/**
 * Outbound webhooks: producers (sender, feedback, API) put events on this region's webhooks queue;
 * the webhooks function delivers each to every endpoint that takes it, signed, logs every try in the
 * audience table and retries failures through delayed messages on the same queue for up to 3 days.
 * Deliveries have their own queue and function: a slow or dead receiver never slows sending. A
 * message the function cannot handle goes to the DLQ (its alarm fires); an endpoint disabled after
 * a day of failures raises the WebhookDisabled alarm.
 */
export class Webhooks extends Construct {
  public readonly queue: QueueWithDlq;
  public readonly function: ServiceFunction;
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    this.queue = new QueueWithDlq(this, "Queue", {
      consumerTimeout: WEBHOOKS_TIMEOUT,
      maxReceiveCount: 5,
      retentionPeriod: props.queueRetention,
    });
    this.function = new ServiceFunction(this, "Function", {
      service: "webhooks",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: WEBHOOKS_TIMEOUT,
      memorySize: 256,
    });
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    // Retries go back on the queue, delayed.
    this.function.bindQueue(ENV.webhookQueueUrl, this.queue, "send");
    this.queue.addConsumer(this.function.function, { batchSize: 10, maxConcurrency: 5 }, this.function.alias);

    const disabled = pipelineCountAlarm(this, "DisabledAlarm", {
      service: "webhooks",
      metricName: METRIC.webhookDisabled,
      period: Duration.minutes(5),
      alarmName: `${props.alarmPrefix}-webhook-disabled`,
      description: "A webhook endpoint failed every delivery for a day and was disabled",
      runbook: RUNBOOK.webhookDisabled,
    });
    this.alarms = [...this.queue.alarms, this.function.errorsAlarm, disabled];
  }

  /** Lets a producer put events on the queue. */
  bindProducer(fn: ServiceFunction): void {
    fn.bindQueue(ENV.webhookQueueUrl, this.queue, "send");
  }
}
