import { Duration, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { acknowledge } from "../nag.ts";
import { RUNBOOK } from "../runbook.ts";
import { anyMessageAlarm, type QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

const SCHEDULER_TIMEOUT = Duration.seconds(50);

export interface SchedulerProps extends FunctionCodeProps {
  /** Names the schedule: "<appName> scheduler (<region>)". */
  readonly appName: string;
  readonly audienceTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  /** Where due campaigns are started. */
  readonly fanoutQueue: QueueWithDlq;
  /** Where stalled recipients (their message lost) are put back. */
  readonly sendQueue: QueueWithDlq;
  /** The fan-out's lease: a fan-out whose lease ran out without progress is put back on its queue. */
  readonly fanoutLease: Duration;
  /** Where list erasures that did not finish are enqueued again. */
  readonly audienceJobsQueue: QueueWithDlq;
  /**
   * How often the function runs. Must be longer than its timeout (50 s), so runs never overlap.
   * @default Duration.minutes(1)
   */
  readonly rate?: Duration;
}

/**
 * The scheduler function and its schedule: starts due campaigns, resumes stalled ones and
 * re-enqueues unfinished list erasures.
 */
export class Scheduler extends Construct {
  public readonly function: ServiceFunction;
  public readonly rule: events.Rule;
  /** Where a failed tick's event goes (Lambda's on-failure destination); any message alarms. */
  public readonly failedTicks: sqs.Queue;
  /** The function's errors alarm and the failed-ticks alarm. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: SchedulerProps) {
    super(scope, id);
    const rate = props.rate ?? Duration.minutes(1);
    if (rate.toSeconds() <= SCHEDULER_TIMEOUT.toSeconds()) {
      throw new Error(
        `Scheduler ${this.node.path}: rate (${rate.toSeconds()} s) must be longer than the function ` +
          `timeout (${SCHEDULER_TIMEOUT.toSeconds()} s), so runs never overlap`,
      );
    }

    this.function = new ServiceFunction(this, "Function", {
      service: "scheduler",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: SCHEDULER_TIMEOUT,
      memorySize: 512,
      environment: { [ENV.fanoutLeaseSeconds]: String(props.fanoutLease.toSeconds()) },
    });
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    this.function.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    this.function.bindQueue(ENV.fanoutQueueUrl, props.fanoutQueue, "send");
    this.function.bindQueue(ENV.sendQueueUrl, props.sendQueue, "send");
    this.function.bindQueue(ENV.audienceJobsQueueUrl, props.audienceJobsQueue, "send");

    // No retries, neither by EventBridge nor by Lambda's asynchronous invocation (two by default):
    // a retried tick would run alongside later ones, and the next tick comes soon and picks up
    // whatever this one missed. A failed tick is recorded in a queue that alarms.
    this.failedTicks = new sqs.Queue(this, "FailedTicks", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.failedTicks, {
      "Serverless::Serverless-SQSRedrivePolicy":
        "It holds failed ticks: the end of the line; any message in it alarms",
      "AwsSolutions::AwsSolutions-SQS3":
        "It holds failed ticks: the end of the line; any message in it alarms",
    });
    this.function.alias.configureAsyncInvoke({
      retryAttempts: 0,
      onFailure: new SqsDestination(this.failedTicks),
    });
    this.rule = new events.Rule(this, "Tick", {
      description: `${props.appName} scheduler (${Stack.of(this).region})`,
      schedule: events.Schedule.rate(rate),
      // A tick EventBridge could not deliver (Lambda throttled it, or refused it) is recorded with
      // the failed ones.
      targets: [
        new targets.LambdaFunction(this.function.alias, {
          retryAttempts: 0,
          deadLetterQueue: this.failedTicks,
        }),
      ],
    });

    this.alarms = [
      this.function.errorsAlarm,
      anyMessageAlarm(
        this,
        "FailedTicksAlarm",
        this.failedTicks,
        `Scheduler ticks failed (${this.node.path})`,
        RUNBOOK.schedulerFailedTicks,
      ),
    ];
  }
}
