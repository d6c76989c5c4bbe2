import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ArnFormat,
  CfnOutput,
  CrossStackReferences,
  Duration,
  ReferenceStrength,
  RemovalPolicy,
  Stack,
  type StackProps,
} from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as ses from "aws-cdk-lib/aws-ses";
import * as sns from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { Construct } from "constructs";
import type { SteadfastConfig } from "../config.ts";
import { FeedbackPipeline } from "../constructs/feedback-pipeline.ts";
import { QueueWithDlq } from "../constructs/queue-with-dlq.ts";
import { ServiceFunction, type ServiceName } from "../constructs/service-function.ts";
import { adminApiKeySecretName, unsubscribeKeySecretName } from "./data-stack.ts";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const entry = (service: ServiceName) => join(PROJECT_ROOT, "lambdas", service, "handler.ts");

const API_TIMEOUT = Duration.seconds(10);
const FANOUT_TIMEOUT = Duration.minutes(5);
const SENDER_TIMEOUT = Duration.minutes(2);
const SENDER_BATCHING_WINDOW = Duration.seconds(1);
const SCHEDULER_TIMEOUT = Duration.seconds(50);
const IMPORTER_TIMEOUT = Duration.minutes(1);

/** The SES configuration set has the same name in every region. */
export const configurationSetName = (config: SteadfastConfig): string => config.appName;

export interface RegionStackProps extends StackProps {
  readonly config: SteadfastConfig;
  /** Region this stack serves; must equal the stack's env region. */
  readonly region: string;
  /** This region's replica of the audience table. */
  readonly audienceTable: dynamodb.ITableV2;
  /** This region's replica of the ledger table. */
  readonly ledgerTable: dynamodb.ITableV2;
}

/**
 * The stateless pipeline of one region: HTTP API → fan-out queue → fan-out function →
 * send queue → sender function → SES. Every region gets the same shape, so any region can
 * take traffic; state lives in the data stack's global tables.
 */
export class RegionStack extends Stack {
  public readonly api: ServiceFunction;
  public readonly fanout: ServiceFunction;
  public readonly sender: ServiceFunction;
  public readonly scheduler: ServiceFunction;
  public readonly importer: ServiceFunction;
  public readonly fanoutQueue: QueueWithDlq;
  public readonly sendQueue: QueueWithDlq;
  public readonly importQueue: QueueWithDlq;
  public readonly httpApi: apigwv2.HttpApi;
  public readonly configurationSet: ses.ConfigurationSet;
  public readonly emailIdentity: ses.EmailIdentity;
  public readonly alarmTopic: sns.Topic;
  public readonly alarms: readonly cloudwatch.Alarm[];
  public readonly feedback: FeedbackPipeline;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    // In the primary region the tables are imported through CloudFormation exports. Strong
    // references make CloudFormation refuse to remove a table this stack still uses.
    // (Other regions address their replica by its fixed name: no export involved.)
    CrossStackReferences.of(this).consume(ReferenceStrength.STRONG);
    const { config, region } = props;
    if (this.region !== region) {
      throw new Error(`RegionStack ${id}: env region ${this.region} does not match region ${region}`);
    }
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const queueRetention = Duration.days(config.queueRetentionDays);

    // --- SES -----------------------------------------------------------------------------
    // Same configuration set name in every region, so the sender can fail over between regions.
    this.configurationSet = new ses.ConfigurationSet(this, "ConfigurationSet", {
      configurationSetName: configurationSetName(config),
      reputationMetrics: true,
      sendingEnabled: true,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
    });
    this.emailIdentity = new ses.EmailIdentity(this, "EmailIdentity", {
      identity: ses.Identity.domain(config.senderDomain),
      configurationSet: this.configurationSet,
    });

    // --- Functions -----------------------------------------------------------------------
    const common = { logRetention, projectRoot: PROJECT_ROOT };
    this.api = new ServiceFunction(this, "Api", {
      ...common,
      service: "api",
      entry: entry("api"),
      timeout: API_TIMEOUT,
      memorySize: 512,
      environment: {
        ADMIN_KEY_SECRET_ID: adminApiKeySecretName(config.appName),
        // Campaigns may only send from the verified identity's domain (or a subdomain of it).
        SENDER_DOMAIN: config.senderDomain,
        // The `from` of campaigns that do not name one.
        DEFAULT_FROM_ADDRESS: config.fromAddress,
      },
    });
    this.fanout = new ServiceFunction(this, "Fanout", {
      ...common,
      service: "fanout",
      entry: entry("fanout"),
      timeout: FANOUT_TIMEOUT,
      memorySize: 1024,
      environment: { LEDGER_RETENTION_DAYS: String(config.ledgerRetentionDays) },
    });
    this.sender = new ServiceFunction(this, "Sender", {
      ...common,
      service: "sender",
      entry: entry("sender"),
      timeout: SENDER_TIMEOUT,
      memorySize: 1024,
      environment: {
        // Own region first: the sender fails over to the others in config order.
        SES_REGIONS: [region, ...config.regions.filter((r) => r !== region)].join(","),
        SES_CONFIGURATION_SET: this.configurationSet.configurationSetName,
        LEDGER_RETENTION_DAYS: String(config.ledgerRetentionDays),
        MAX_SEND_RATE: String(config.maxSendRate),
        // Each concurrent sender takes MAX_SEND_RATE / SENDER_CONCURRENCY, keeping the region's
        // total under its SES quota.
        SENDER_CONCURRENCY: String(config.senderConcurrency),
      },
    });

    // --- Queues --------------------------------------------------------------------------
    this.fanoutQueue = new QueueWithDlq(this, "FanoutQueue", {
      consumerTimeout: FANOUT_TIMEOUT,
      maxReceiveCount: 5,
      retentionPeriod: queueRetention,
    });
    // The sender retries throttled sends itself by extending the visibility timeout, so a
    // message may be received many times before it is really failing.
    this.sendQueue = new QueueWithDlq(this, "SendQueue", {
      consumerTimeout: SENDER_TIMEOUT,
      consumerMaxBatchingWindow: SENDER_BATCHING_WINDOW,
      maxReceiveCount: 10,
      retentionPeriod: queueRetention,
    });

    // --- Wiring: tables, queues, secret ---------------------------------------------------
    this.api.bindTable("AUDIENCE_TABLE", props.audienceTable, "readWrite");
    this.api.bindTable("LEDGER_TABLE", props.ledgerTable, "readWrite");
    this.api.function.addEnvironment("FANOUT_QUEUE_URL", this.fanoutQueue.queue.queueUrl);
    this.fanoutQueue.queue.grantSendMessages(this.api);
    // Queue administration: depths (GET /v1/admin/queues) and DLQ redrive (POST /v1/admin/dlq/redrive).
    this.api.function.addEnvironment("SEND_QUEUE_URL", this.sendQueue.queue.queueUrl);
    this.api.function.addEnvironment("FANOUT_DLQ_URL", this.fanoutQueue.deadLetterQueue.queueUrl);
    this.api.function.addEnvironment("SEND_DLQ_URL", this.sendQueue.deadLetterQueue.queueUrl);
    for (const { queue, deadLetterQueue } of [this.fanoutQueue, this.sendQueue]) {
      queue.grant(this.api, "sqs:GetQueueAttributes", "sqs:SendMessage");
      // StartMessageMoveTask needs these on the source DLQ.
      // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
      deadLetterQueue.grant(
        this.api,
        "sqs:GetQueueAttributes",
        "sqs:StartMessageMoveTask",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
      );
    }
    // ApproximateAgeOfOldestMessage is only a CloudWatch metric; GetMetricData has no resource-level permissions.
    this.api.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["cloudwatch:GetMetricData"], resources: ["*"] }),
    );
    // Each region reads its local replica of the secret, which has the same name everywhere.
    secretsmanager.Secret.fromSecretNameV2(
      this,
      "AdminApiKey",
      adminApiKeySecretName(config.appName),
    ).grantRead(this.api);

    // Fan-out writes audience checkpoints, so it needs write access to the audience table too.
    this.fanout.bindTable("AUDIENCE_TABLE", props.audienceTable, "readWrite");
    this.fanout.bindTable("LEDGER_TABLE", props.ledgerTable, "readWrite");
    this.fanout.function.addEnvironment("SEND_QUEUE_URL", this.sendQueue.queue.queueUrl);
    this.sendQueue.queue.grantSendMessages(this.fanout);
    // Fan-out re-enqueues a continuation message when a page of the audience is done.
    this.fanout.function.addEnvironment("FANOUT_QUEUE_URL", this.fanoutQueue.queue.queueUrl);
    this.fanoutQueue.queue.grantSendMessages(this.fanout);
    this.fanoutQueue.addConsumer(this.fanout.function, { batchSize: 1, maxConcurrency: 2 });

    this.sender.bindTable("AUDIENCE_TABLE", props.audienceTable, "read");
    this.sender.bindTable("LEDGER_TABLE", props.ledgerTable, "readWrite");
    this.sender.function.addEnvironment("SEND_QUEUE_URL", this.sendQueue.queue.queueUrl);
    // The event source grants consumption; this grant documents that the sender also uses the
    // visibility timeout as its retry backoff.
    this.sendQueue.queue.grant(this.sender, "sqs:ChangeMessageVisibility");
    this.sendQueue.addConsumer(this.sender.function, {
      batchSize: 4,
      maxBatchingWindow: SENDER_BATCHING_WINDOW,
      maxConcurrency: config.senderConcurrency,
    });
    this.grantSend(this.sender, config);

    // --- Scheduler: every minute, starts due campaigns and resumes stalled ones ------------
    this.scheduler = new ServiceFunction(this, "Scheduler", {
      ...common,
      service: "scheduler",
      entry: entry("scheduler"),
      timeout: SCHEDULER_TIMEOUT,
      memorySize: 512,
    });
    this.scheduler.bindTable("AUDIENCE_TABLE", props.audienceTable, "readWrite");
    this.scheduler.bindTable("LEDGER_TABLE", props.ledgerTable, "readWrite");
    this.scheduler.function.addEnvironment("FANOUT_QUEUE_URL", this.fanoutQueue.queue.queueUrl);
    this.fanoutQueue.queue.grantSendMessages(this.scheduler);
    // Stalled recipients (their message lost) are put back on the send queue.
    this.scheduler.function.addEnvironment("SEND_QUEUE_URL", this.sendQueue.queue.queueUrl);
    this.sendQueue.queue.grantSendMessages(this.scheduler);
    new events.Rule(this, "SchedulerTick", {
      description: `${config.appName} scheduler (${region})`,
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.scheduler.function, { retryAttempts: 0 })],
    });

    // --- Audience jobs: CSV import chunks and list erasures --------------------------------
    // A CSV of up to 100,000 rows arrives in one request (HTTP API bodies are at most 10 MB and a
    // synchronous Lambda payload at most 6 MB); the API stores the job and enqueues chunks of rows
    // that the importer upserts, so the request returns in seconds.
    this.importer = new ServiceFunction(this, "Importer", {
      ...common,
      service: "importer",
      entry: entry("importer"),
      timeout: IMPORTER_TIMEOUT,
      memorySize: 512,
    });
    this.importQueue = new QueueWithDlq(this, "ImportQueue", {
      consumerTimeout: IMPORTER_TIMEOUT,
      maxReceiveCount: 5,
      retentionPeriod: queueRetention,
    });
    this.importer.bindTable("AUDIENCE_TABLE", props.audienceTable, "readWrite");
    this.importer.function.addEnvironment("IMPORT_QUEUE_URL", this.importQueue.queue.queueUrl);
    // A list erasure larger than one invocation continues in a new message.
    this.importQueue.queue.grantSendMessages(this.importer);
    this.importQueue.addConsumer(this.importer.function, { batchSize: 1, maxConcurrency: 2 });
    for (const producer of [this.api, this.scheduler]) {
      producer.function.addEnvironment("IMPORT_QUEUE_URL", this.importQueue.queue.queueUrl);
      this.importQueue.queue.grantSendMessages(producer);
    }

    // --- HTTP API ------------------------------------------------------------------------
    this.httpApi = new apigwv2.HttpApi(this, "HttpApi", {
      description: `${config.appName} API (${region})`,
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", this.api.function, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      }),
      // The default stage is created below to configure throttling and access logs.
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stage = this.httpApi.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: config.apiThrottle.rateLimit, burstLimit: config.apiThrottle.burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            requestTime: "$context.requestTimeEpoch",
            method: "$context.httpMethod",
            path: "$context.path",
            status: "$context.status",
            latencyMs: "$context.responseLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    const api5xxAlarm = stage
      .metricServerError({ period: Duration.minutes(5), statistic: "Sum" })
      .createAlarm(this, "Api5xxAlarm", {
        alarmName: `${config.appName}-${region}-api-5xx`,
        alarmDescription: `The ${config.appName} HTTP API in ${region} returned 5 or more 5xx responses in 5 minutes`,
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    new CfnOutput(this, "ApiUrl", { value: stage.url, description: "Base URL of the HTTP API" });

    // --- Deliverability: unsubscribe links, SES feedback, reputation guard ------------------
    // Unsubscribe links point at this region's API (RFC 8058 needs an HTTPS URL; the stage URL is).
    this.sender.function.addEnvironment("PUBLIC_API_URL", stage.url);
    const unsubscribeKey = secretsmanager.Secret.fromSecretNameV2(
      this,
      "UnsubscribeKey",
      unsubscribeKeySecretName(config.appName),
    );
    for (const fn of [this.api, this.sender]) {
      fn.function.addEnvironment("UNSUBSCRIBE_SECRET_ID", unsubscribeKeySecretName(config.appName));
      unsubscribeKey.grantRead(fn);
    }
    this.feedback = new FeedbackPipeline(this, "Feedback", {
      configurationSet: this.configurationSet,
      audienceTable: props.audienceTable,
      ledgerTable: props.ledgerTable,
      entry: entry("feedback"),
      projectRoot: PROJECT_ROOT,
      logRetention,
      queueRetention,
      alarmPrefix: `${config.appName}-${region}`,
    });

    // --- Alarms --------------------------------------------------------------------------
    // No KMS key: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    this.alarmTopic = new sns.Topic(this, "AlarmTopic", {
      displayName: `${config.appName} alarms (${region})`,
      enforceSSL: true,
    });
    if (config.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new EmailSubscription(config.alarmEmail));
    }
    this.alarms = [
      ...this.fanoutQueue.alarms,
      ...this.sendQueue.alarms,
      ...this.importQueue.alarms,
      this.api.errorsAlarm,
      this.importer.errorsAlarm,
      this.fanout.errorsAlarm,
      this.sender.errorsAlarm,
      this.scheduler.errorsAlarm,
      api5xxAlarm,
      ...this.feedback.alarms,
    ];
    const action = new SnsAction(this.alarmTopic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  /**
   * SES v2 SendEmail is authorized against both the sending identity and the configuration
   * set, so both are listed in every region the sender may fail over to.
   * https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
   */
  private grantSend(grantee: iam.IGrantable, config: SteadfastConfig): void {
    const arn = (region: string, resource: string, resourceName: string) =>
      this.formatArn({
        service: "ses",
        region,
        resource,
        resourceName,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ses:SendEmail"],
        resources: config.regions.flatMap((region) => [
          arn(region, "identity", config.senderDomain),
          arn(region, "configuration-set", configurationSetName(config)),
        ]),
      }),
    );
    // ses:GetAccount (sending quota and rate) has no resource-level permissions, so it needs "*".
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsimpleemailservicev2.html
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["ses:GetAccount"], resources: ["*"] }),
    );
  }
}
