import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

const JOB_TIMEOUT = Duration.minutes(1);

export interface AudienceJobsProps extends FunctionCodeProps {
  readonly audienceTable: dynamodb.ITableV2;
  /** Erasing a list erases its subscribers' ledger items too. */
  readonly ledgerTable: dynamodb.ITableV2;
  /** An import into a double opt-in list starts confirmation campaigns: their fan-out goes here. */
  readonly fanoutQueue: QueueWithDlq;
  /** The address confirmation emails come from. */
  readonly defaultFromAddress: string;
  /**
   * How long the job queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly queueRetention?: Duration;
}

/**
 * Audience work too large for one request: CSV import chunks (and, for a double opt-in list, the
 * confirmation campaigns of the new subscribers) and list erasures. A CSV of up to
 * 100,000 rows arrives in one request (HTTP API bodies are at most 10 MB and a synchronous Lambda
 * payload at most 6 MB); the API stores the job and enqueues chunks of rows that the function
 * upserts, so the request returns in seconds. A list erasure larger than one invocation continues
 * in a new message.
 */
export class AudienceJobs extends Construct {
  public readonly queue: QueueWithDlq;
  public readonly function: ServiceFunction;
  /** The queue's alarms and the function's. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: AudienceJobsProps) {
    super(scope, id);
    this.queue = new QueueWithDlq(this, "Queue", {
      consumerTimeout: JOB_TIMEOUT,
      maxReceiveCount: 5,
      retentionPeriod: props.queueRetention,
    });

    this.function = new ServiceFunction(this, "Function", {
      service: "audience-jobs",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: JOB_TIMEOUT,
      memorySize: 512,
    });
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    this.function.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    // Sends the continuation of a list erasure.
    this.function.bindQueue(ENV.audienceJobsQueueUrl, this.queue, "send");
    // Starts the confirmation campaigns of an import into a double opt-in list.
    this.function.bindQueue(ENV.fanoutQueueUrl, props.fanoutQueue, "send");
    this.function.setEnvironment(ENV.defaultFromAddress, props.defaultFromAddress);
    this.queue.addConsumer(this.function.function, { batchSize: 1, maxConcurrency: 2 }, this.function.alias);

    this.alarms = [...this.queue.alarms, this.function.errorsAlarm];
  }
}
