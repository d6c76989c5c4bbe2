import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

const FANOUT_TIMEOUT = Duration.minutes(5);
/**
 * A fan-out worker's hold on a campaign, renewed at every page (a page takes seconds). A lease that
 * runs out without the checkpoint moving means its worker is gone: the scheduler's watch then puts
 * the fan-out back on its queue at once, rather than after the queue's 30-minute visibility timeout.
 */
const FANOUT_LEASE = Duration.seconds(60);
/**
 * Fan-out workers at once: slices of one big list, or several campaigns, written side by side. Four
 * write 100,000 recipients in well under 30 s on DynamoDB on demand (a few thousand items a second
 * each), and leave the table's (and, locally, DynamoDB Local's) capacity to the senders and the API.
 */
const FANOUT_CONCURRENCY = 4;

export interface FanoutProps extends FunctionCodeProps {
  readonly audienceTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  /** Where the fan-out puts the send messages (up to 50 recipients each). */
  readonly sendQueue: QueueWithDlq;
  /** Days a ledger entry is kept before it expires. */
  readonly ledgerRetentionDays: number;
  /**
   * How long the fan-out queue keeps a message.
   * @default Duration.days(4) (the SQS default)
   */
  readonly queueRetention?: Duration;
}

/**
 * The first stage of delivery: the fan-out queue and the fan-out function. A campaign's reader cuts
 * its list into slices (a message per slice on the same queue); up to FANOUT_CONCURRENCY workers
 * write slices side by side, a page at a time: each recipient on the ledger, then the send messages.
 */
export class Fanout extends Construct {
  public readonly queue: QueueWithDlq;
  public readonly function: ServiceFunction;
  /** The fan-out lease (the scheduler's watch takes over a fan-out whose lease ran out). */
  public readonly lease = FANOUT_LEASE;
  /** The queue's alarms and the function's. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: FanoutProps) {
    super(scope, id);
    this.queue = new QueueWithDlq(this, "Queue", {
      consumerTimeout: FANOUT_TIMEOUT,
      maxReceiveCount: 5,
      retentionPeriod: props.queueRetention,
    });

    this.function = new ServiceFunction(this, "Function", {
      service: "fanout",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: FANOUT_TIMEOUT,
      memorySize: 1024,
      environment: {
        [ENV.ledgerRetentionDays]: String(props.ledgerRetentionDays),
        [ENV.fanoutLeaseSeconds]: String(FANOUT_LEASE.toSeconds()),
      },
    });
    // Fan-out writes audience checkpoints, so it needs write access to the audience table too.
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    this.function.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    this.function.bindQueue(ENV.sendQueueUrl, props.sendQueue, "send");
    // Fan-out enqueues a message per slice, and a continuation when an invocation runs short of time.
    this.function.bindQueue(ENV.fanoutQueueUrl, this.queue, "send");
    this.queue.addConsumer(
      this.function.function,
      { batchSize: 1, maxConcurrency: FANOUT_CONCURRENCY },
      this.function.alias,
    );

    this.alarms = [...this.queue.alarms, this.function.errorsAlarm];
  }
}
