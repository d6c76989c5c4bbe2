import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as ses from "aws-cdk-lib/aws-ses";
import { Construct } from "constructs";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { RUNBOOK, withRunbook } from "../runbook.ts";
import {
  FEEDBACK_EVENT_TYPES,
  type FeedbackEventType,
  SES_DETAIL_TYPES,
  SES_EVENT_SOURCE,
} from "../../lambdas/contracts/events.ts";
import { METRIC } from "../../lambdas/contracts/metrics.ts";
import { REPUTATION_LIMITS } from "../../lambdas/domain/reputation.ts";
import { QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, pipelineCountAlarm, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

const FEEDBACK_TIMEOUT = Duration.seconds(30);
const FEEDBACK_BATCHING_WINDOW = Duration.seconds(1);

/** The configuration set's event destination type of each SES event the pipeline consumes. */
const SENDING_EVENT: Readonly<Record<FeedbackEventType, ses.EmailSendingEvent>> = {
  Send: ses.EmailSendingEvent.SEND,
  Delivery: ses.EmailSendingEvent.DELIVERY,
  Bounce: ses.EmailSendingEvent.BOUNCE,
  Complaint: ses.EmailSendingEvent.COMPLAINT,
  Reject: ses.EmailSendingEvent.REJECT,
  Open: ses.EmailSendingEvent.OPEN,
  Click: ses.EmailSendingEvent.CLICK,
  "Rendering Failure": ses.EmailSendingEvent.RENDERING_FAILURE,
  DeliveryDelay: ses.EmailSendingEvent.DELIVERY_DELAY,
};

export interface FeedbackPipelineProps extends FunctionCodeProps {
  /** The configuration set every campaign email is sent with. */
  readonly configurationSet: ses.ConfigurationSet;
  readonly audienceTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  readonly queueRetention: Duration;
  /** Prefix of alarm names. */
  readonly alarmPrefix: string;
}

/**
 * SES feedback: the configuration set publishes every sending event to the region's default
 * EventBridge bus; a rule forwards this configuration set's events to the feedback queue (with
 * its DLQ); the feedback function records them on the ledger, the suppression list and the
 * campaign counters, and pauses campaigns that hurt the sender's reputation.
 *
 * Open and click tracking are on because the event destination asks for OPEN and CLICK events
 * (SES then adds its tracking pixel and rewrites links:
 * https://docs.aws.amazon.com/ses/latest/dg/faqs-metrics.html).
 *
 * Alarms: the guard's ReputationPause metric, and the account's SES reputation in this region
 * (`Reputation.BounceRate` ≥ 5 %, `Reputation.ComplaintRate` ≥ 0.1 %: the SES review thresholds,
 * https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-cloudwatch-alarm.html).
 */
export class FeedbackPipeline extends Construct {
  public readonly queue: QueueWithDlq;
  public readonly function: ServiceFunction;
  public readonly rule: events.Rule;
  public readonly reputationPauseAlarm: cloudwatch.Alarm;
  public readonly bounceRateAlarm: cloudwatch.Alarm;
  public readonly complaintRateAlarm: cloudwatch.Alarm;
  /** Every alarm of the pipeline: the queue's, the function's and the reputation alarms. */
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: FeedbackPipelineProps) {
    super(scope, id);
    const configurationSetName = props.configurationSet.configurationSetName;

    this.queue = new QueueWithDlq(this, "Queue", {
      consumerTimeout: FEEDBACK_TIMEOUT,
      consumerMaxBatchingWindow: FEEDBACK_BATCHING_WINDOW,
      // The function retries an event whose ledger item is not written yet a few times itself.
      maxReceiveCount: 10,
      retentionPeriod: props.queueRetention,
    });

    this.function = new ServiceFunction(this, "Function", {
      service: "feedback",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout: FEEDBACK_TIMEOUT,
      memorySize: 512,
    });
    this.function.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    this.function.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    // Besides its event source, the function sets a failed message's visibility as its backoff.
    this.function.bindQueue(ENV.feedbackQueueUrl, this.queue, "consume");
    // Unparseable events are moved to the DLQ at once.
    this.function.bindQueue(ENV.feedbackDlqUrl, this.queue, "deadLetter");
    this.queue.addConsumer(
      this.function.function,
      {
        // A batch's events are written in a few transactions (LedgerStore.recordFirstAll): bigger
        // batches, fewer requests per event.
        batchSize: 100,
        maxBatchingWindow: FEEDBACK_BATCHING_WINDOW,
        maxConcurrency: 4,
      },
      this.function.alias,
    );

    // SES publishes to the default bus only.
    // https://docs.aws.amazon.com/ses/latest/dg/event-publishing-add-event-destination-eventbridge.html
    const defaultBus = events.EventBus.fromEventBusName(this, "DefaultBus", "default");
    props.configurationSet.addEventDestination("EventBridge", {
      destination: ses.EventDestination.eventBus(defaultBus),
      events: FEEDBACK_EVENT_TYPES.map((type) => SENDING_EVENT[type]),
    });
    this.rule = new events.Rule(this, "SesEvents", {
      description: `SES events of configuration set ${configurationSetName} to the feedback queue`,
      eventBus: defaultBus,
      eventPattern: {
        source: [SES_EVENT_SOURCE],
        detailType: FEEDBACK_EVENT_TYPES.map((type) => SES_DETAIL_TYPES[type]),
        detail: { mail: { tags: { "ses:configuration-set": [configurationSetName] } } },
      },
      // Events EventBridge cannot deliver land in the same DLQ as events the function cannot process.
      targets: [
        new targets.SqsQueue(this.queue.queue, {
          deadLetterQueue: this.queue.deadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    this.reputationPauseAlarm = pipelineCountAlarm(this, "ReputationPauseAlarm", {
      service: "feedback",
      metricName: METRIC.reputationPause,
      period: Duration.minutes(5),
      alarmName: `${props.alarmPrefix}-reputation-pause`,
      description: "A campaign crossed 5 % bounces or 0.1 % complaints and was paused",
      runbook: RUNBOOK.reputationPause,
    });
    const reputation = (metricName: string, threshold: number, id: string, what: string) =>
      new cloudwatch.Metric({
        namespace: "AWS/SES",
        metricName,
        period: Duration.minutes(15),
        statistic: "Maximum",
      }).createAlarm(this, id, {
        alarmName: `${props.alarmPrefix}-ses-${what}-rate`,
        alarmDescription: withRunbook(
          `The account's SES ${what} rate in this region reached the SES review threshold`,
          RUNBOOK.sesReputation,
        ),
        threshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.bounceRateAlarm = reputation(
      "Reputation.BounceRate",
      REPUTATION_LIMITS.maxBounceRate,
      "BounceRateAlarm",
      "bounce",
    );
    this.complaintRateAlarm = reputation(
      "Reputation.ComplaintRate",
      REPUTATION_LIMITS.maxComplaintRate,
      "ComplaintRateAlarm",
      "complaint",
    );

    this.alarms = [
      ...this.queue.alarms,
      this.function.errorsAlarm,
      this.reputationPauseAlarm,
      this.bounceRateAlarm,
      this.complaintRateAlarm,
    ];
  }
}
