import { type CfnElement, Duration, Stack } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as synthetics from "aws-cdk-lib/aws-synthetics";
import { Construct } from "constructs";
import { METRIC } from "../../lambdas/contracts/metrics.ts";
import { REPUTATION_LIMITS } from "../../lambdas/domain/reputation.ts";
import { acknowledge } from "../nag.ts";
import { RUNBOOK, type RunbookSection, withRunbook } from "../runbook.ts";
import type { IntakeApi } from "./intake-api.ts";
import type { QueueWithDlq } from "./queue-with-dlq.ts";
import type { ServiceFunction } from "./service-function.ts";

export interface MonitoringProps {
  readonly appName: string;
  /** Every region of the deployment: replication latency is watched towards each of the others. */
  readonly regions: readonly string[];
  readonly api: IntakeApi;
  /** The region's functions, by role (sender, fanout, …). */
  readonly functions: Readonly<Record<string, ServiceFunction>>;
  /** The work queues, by role, each with its DLQ. */
  readonly queues: Readonly<Record<string, QueueWithDlq>>;
  readonly tables: readonly dynamodb.ITableV2[];
  /** The scheduler, which ticks every minute: no invocation for 5 minutes is a missing heartbeat. */
  readonly scheduler: ServiceFunction;
  /** URLs the uptime canary calls every minute (`/health` is appended). */
  readonly uptimeUrls: readonly string[];
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * What an operator watches in one region: a dashboard of what users see and what the pipeline does,
 * an uptime canary, and alarms on latency, errors, throttles, replication and the pipeline's own
 * metrics. Those alarms are grouped into composite alarms by kind of incident (API, sending, data,
 * reputation): the composites notify, so one incident pages once; the member alarms show on the
 * dashboard and in the console.
 */
export class Monitoring extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly canary: synthetics.Canary;
  /** The alarms that notify: one composite per kind of incident. */
  public readonly composites: readonly cloudwatch.CompositeAlarm[];
  /** Every member alarm, by name. */
  public readonly members: ReadonlyMap<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { region } = Stack.of(this);
    const prefix = `${props.appName}-${region}`;
    const members = new Map<string, cloudwatch.Alarm>();
    const alarm = (
      name: string,
      metric: cloudwatch.IMetric,
      options: Omit<cloudwatch.CreateAlarmOptions, "alarmName" | "alarmDescription"> & {
        readonly description: string;
        readonly runbook: RunbookSection;
      },
    ) => {
      const { description, runbook, ...rest } = options;
      const created = new cloudwatch.Alarm(this, `${name}Alarm`, {
        metric,
        alarmName: `${prefix}-${name}`,
        alarmDescription: withRunbook(description, runbook),
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...rest,
      });
      members.set(name, created);
      return created;
    };
    const pipeline = (service: string, metricName: string, period = FIVE_MINUTES) =>
      new cloudwatch.Metric({
        namespace: "Steadfast",
        metricName,
        dimensionsMap: { service: `steadfast-${service}` },
        period,
        statistic: "Sum",
      });

    // --- Uptime: the canary calls /health on every given URL every minute.
    this.canary = new synthetics.Canary(this, "Uptime", {
      canaryName: `${props.appName.slice(0, 13)}-uptime`,
      runtime: synthetics.Runtime.SYNTHETICS_NODEJS_PUPPETEER_13_0,
      schedule: synthetics.Schedule.rate(Duration.minutes(1)),
      test: synthetics.Test.custom({
        code: synthetics.Code.fromInline(canaryScript()),
        handler: "index.handler",
      }),
      environmentVariables: { STEADFAST_UPTIME_URLS: props.uptimeUrls.join(" ") },
      timeout: Duration.seconds(30),
      successRetentionPeriod: Duration.days(7),
      failureRetentionPeriod: Duration.days(31),
      artifactsBucketLifecycleRules: [{ expiration: Duration.days(31) }],
    });
    // The role and bucket Synthetics needs, as the construct makes them (names depend on the canary).
    const artifacts = Stack.of(this).getLogicalId(
      this.canary.artifactsBucket.node.defaultChild as CfnElement,
    );
    acknowledge(this.canary, {
      "AwsSolutions::AwsSolutions-S1":
        "The canary's own run artifacts, expired after 31 days: nothing to audit access to",
      [`AwsSolutions::AwsSolutions-IAM5[Resource::<${artifacts}.Arn>/*]`]:
        "The canary writes its run artifacts into its own bucket",
      [`AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${region}:<AWS::AccountId>:log-group:/aws/lambda/cwsyn-*]`]:
        "Synthetics names the canary's log group at creation: cwsyn-<name>-<id>",
      "AwsSolutions::AwsSolutions-IAM5[Resource::*]":
        "CloudWatch PutMetricData (limited to the CloudWatchSynthetics namespace by condition), S3 ListAllMyBuckets and X-Ray have no resource-level permissions",
      "Serverless::Serverless-LambdaStarPermissions":
        "The same Synthetics permissions: no resource-level permissions exist for them",
    });
    const uptime = this.canary.metricSuccessPercent({ period: Duration.minutes(1), statistic: "Average" });
    alarm("uptime", uptime, {
      description: `The uptime canary failed 3 minutes in a row (the product promises 99.9 % a month: 43 minutes)`,
      runbook: RUNBOOK.uptime,
      threshold: 100,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    // --- API: what clients see.
    const { stage } = props.api;
    const requests = stage.metricCount({ period: FIVE_MINUTES, statistic: "Sum" });
    const clientErrors = stage.metricClientError({ period: FIVE_MINUTES, statistic: "Sum" });
    const serverErrors = stage.metricServerError({ period: FIVE_MINUTES, statistic: "Sum" });
    const p99 = stage.metricLatency({ period: FIVE_MINUTES, statistic: "p99" });
    alarm("api-latency-p99", p99, {
      description: "The API's p99 latency was above 2 s for 10 minutes",
      runbook: RUNBOOK.apiLatency,
      threshold: 2_000,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
    });
    const clientErrorRate = new cloudwatch.MathExpression({
      label: "4xx %",
      expression: "IF(requests >= 20, 100 * errors / requests, 0)",
      usingMetrics: { requests, errors: clientErrors },
      period: FIVE_MINUTES,
    });
    alarm("api-4xx-rate", clientErrorRate, {
      description:
        "More than 25 % of at least 20 API requests in 5 minutes answered 4xx (429 included): a client is misbehaving or being throttled",
      runbook: RUNBOOK.api4xx,
      threshold: 25,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    // --- Functions.
    const functions = Object.entries(props.functions);
    const throttles = sumOf(
      "throttles",
      functions.map(([, fn]) => fn.function.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum" })),
    );
    alarm("lambda-throttles", throttles, {
      description: "Lambda throttled invocations of this region's functions (account concurrency reached)",
      runbook: RUNBOOK.lambdaThrottles,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    alarm(
      "scheduler-heartbeat",
      props.scheduler.function.metricInvocations({ period: FIVE_MINUTES, statistic: "Sum" }),
      {
        description: "The scheduler, which ticks every minute, was not invoked for 5 minutes",
        runbook: RUNBOOK.schedulerHeartbeat,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
    );

    // --- DynamoDB: this region's replicas.
    const tableThrottles = sumOf(
      "throttled",
      props.tables.flatMap((table) => [
        table.metric("ReadThrottleEvents", { period: FIVE_MINUTES, statistic: "Sum" }),
        table.metric("WriteThrottleEvents", { period: FIVE_MINUTES, statistic: "Sum" }),
      ]),
    );
    alarm("dynamodb-throttles", tableThrottles, {
      description: "DynamoDB throttled more than 10 requests to this region's replicas in 5 minutes",
      runbook: RUNBOOK.dynamoThrottles,
      threshold: 10,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const systemErrors = sumOf(
      "system errors",
      props.tables.flatMap((table) =>
        SYSTEM_ERROR_OPERATIONS.map((operation) =>
          table.metric("SystemErrors", {
            dimensionsMap: { TableName: table.tableName, Operation: operation },
            period: FIVE_MINUTES,
            statistic: "Sum",
          }),
        ),
      ),
    );
    alarm("dynamodb-system-errors", systemErrors, {
      description: "DynamoDB answered 5xx (system errors) to this region's functions",
      runbook: RUNBOOK.dynamoSystemErrors,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    const replication = props.regions
      .filter((other) => other !== region)
      .flatMap((other) =>
        props.tables.map(
          (table) =>
            new cloudwatch.Metric({
              namespace: "AWS/DynamoDB",
              metricName: "ReplicationLatency",
              dimensionsMap: { TableName: table.tableName, ReceivingRegion: other },
              period: FIVE_MINUTES,
              statistic: "Average",
            }),
        ),
      );
    if (replication.length > 0) {
      alarm("replication-latency", maxOf("replication", replication), {
        description:
          "Replication from this region's replicas to another region took more than 60 s on average for 10 minutes",
        runbook: RUNBOOK.replicationLatency,
        threshold: 60_000,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
      });
    }

    // --- The pipeline's own metrics.
    const sent = pipeline("sender", METRIC.emailsSent);
    const failed = pipeline("sender", METRIC.sendFailed);
    const sendFailureRate = alarm(
      "send-failure-rate",
      new cloudwatch.MathExpression({
        label: "failed %",
        expression: "IF(sent + failed >= 20, 100 * failed / (sent + failed), 0)",
        usingMetrics: { sent, failed },
        period: FIVE_MINUTES,
      }),
      {
        description: "More than 5 % of at least 20 sends in 5 minutes failed for good",
        runbook: RUNBOOK.sendFailed,
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      },
    );
    // A sender version that fails sends without throwing is rolled back as well.
    props.functions.sender?.addRollbackAlarm(sendFailureRate);
    const count = (name: string, metricName: string, description: string, runbook: RunbookSection) =>
      alarm(name, pipeline("sender", metricName), {
        description,
        runbook,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
      });
    count(
      "breaker-opened",
      METRIC.breakerOpened,
      "An SES circuit breaker opened: a region's SES failed repeatedly",
      RUNBOOK.breakerOpened,
    );
    count(
      "failover-used",
      METRIC.failoverUsed,
      "Emails went out through another region's SES",
      RUNBOOK.failover,
    );
    count(
      "possible-duplicate",
      METRIC.possibleDuplicate,
      "An SES call's outcome was unknown: a recipient may have been mailed twice",
      RUNBOOK.possibleDuplicate,
    );
    const early = (what: string, metricName: string, threshold: number) =>
      alarm(
        `ses-${what}-rate-early`,
        new cloudwatch.Metric({
          namespace: "AWS/SES",
          metricName,
          period: Duration.minutes(15),
          statistic: "Maximum",
        }),
        {
          description: `The account's SES ${what} rate reached half the SES review threshold: early warning`,
          runbook: RUNBOOK.sesReputationEarly,
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
        },
      );
    early("bounce", "Reputation.BounceRate", REPUTATION_LIMITS.maxBounceRate / 2);
    early("complaint", "Reputation.ComplaintRate", REPUTATION_LIMITS.maxComplaintRate / 2);
    this.members = members;

    // --- One page per incident.
    const composite = (name: string, what: string, names: readonly string[]) =>
      new cloudwatch.CompositeAlarm(this, `${name}Composite`, {
        compositeAlarmName: `${prefix}-${name}`,
        alarmDescription: withRunbook(`${what} (any of: ${names.join(", ")})`, RUNBOOK.composite),
        alarmRule: cloudwatch.AlarmRule.anyOf(
          ...names.flatMap((n) => {
            const member = members.get(n);
            return member ? [cloudwatch.AlarmRule.fromAlarm(member, cloudwatch.AlarmState.ALARM)] : [];
          }),
        ),
      });
    this.composites = [
      composite("api-impaired", "Clients are affected", ["uptime", "api-latency-p99", "api-4xx-rate"]),
      composite("sending-impaired", "Sending is degraded", [
        "send-failure-rate",
        "breaker-opened",
        "failover-used",
        "possible-duplicate",
        "lambda-throttles",
        "scheduler-heartbeat",
      ]),
      composite("data-impaired", "DynamoDB is degraded", [
        "dynamodb-throttles",
        "dynamodb-system-errors",
        "replication-latency",
      ]),
      composite("reputation-warning", "Sender reputation is slipping", [
        "ses-bounce-rate-early",
        "ses-complaint-rate-early",
      ]),
    ];

    // --- The dashboard.
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      dashboardName: prefix,
      defaultInterval: Duration.hours(3),
    });
    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    const perMinute = (service: string, metricName: string) =>
      pipeline(service, metricName, Duration.minutes(1));
    const queues = Object.entries(props.queues);
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: "Incidents",
        alarms: [...this.composites],
        width: 8,
        height: 6,
      }),
      graph("Uptime (canary success %)", [uptime]),
      graph("Sends per minute", [
        perMinute("sender", METRIC.emailsSent),
        perMinute("sender", METRIC.sendFailed),
        perMinute("sender", METRIC.suppressed),
        perMinute("fanout", METRIC.recipientsQueued),
      ]),
    );
    this.dashboard.addWidgets(
      graph("SES: throttles, failovers, breaker", [
        perMinute("sender", METRIC.throttled),
        perMinute("sender", METRIC.failoverUsed),
        perMinute("sender", METRIC.breakerOpened),
        perMinute("sender", METRIC.breakerTransition),
        perMinute("sender", METRIC.possibleDuplicate),
      ]),
      graph(
        "Queue depth",
        queues.map(([role, q]) =>
          q.queue.metricApproximateNumberOfMessagesVisible({ label: role, period: Duration.minutes(1) }),
        ),
      ),
      graph(
        "Oldest message (s) and DLQ depth",
        queues.flatMap(([role, q]) => [
          q.queue.metricApproximateAgeOfOldestMessage({ label: `${role} age`, period: Duration.minutes(1) }),
          q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            label: `${role} DLQ`,
            period: Duration.minutes(1),
          }),
        ]),
      ),
    );
    this.dashboard.addWidgets(
      graph("API requests, 4xx, 5xx", [requests, clientErrors, serverErrors]),
      graph("API latency p99 (ms)", [p99]),
      graph(
        "Lambda errors and throttles",
        functions.flatMap(([role, fn]) => [
          fn.function.metricErrors({ label: `${role} errors`, period: FIVE_MINUTES }),
          fn.function.metricThrottles({ label: `${role} throttles`, period: FIVE_MINUTES }),
        ]),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        "Lambda duration p99 (ms)",
        functions.map(([role, fn]) =>
          fn.function.metricDuration({ label: role, statistic: "p99", period: FIVE_MINUTES }),
        ),
      ),
      graph("DynamoDB throttles and system errors", [tableThrottles, systemErrors]),
      graph("DynamoDB ReplicationLatency (ms)", replication),
    );
    this.dashboard.addWidgets(
      graph("SES bounce and complaint rates", [
        new cloudwatch.Metric({
          namespace: "AWS/SES",
          metricName: "Reputation.BounceRate",
          statistic: "Maximum",
        }),
        new cloudwatch.Metric({
          namespace: "AWS/SES",
          metricName: "Reputation.ComplaintRate",
          statistic: "Maximum",
        }),
      ]),
      graph("Campaign progress (feedback)", [
        perMinute("feedback", METRIC.hardBounces),
        perMinute("feedback", METRIC.complaints),
        perMinute("feedback", METRIC.reputationPause),
      ]),
    );
  }
}

/**
 * The operations the functions call most, for DynamoDB's SystemErrors (a per-operation metric): four
 * per table keeps the alarm within CloudWatch's 10 metrics per math expression.
 */
const SYSTEM_ERROR_OPERATIONS = ["GetItem", "PutItem", "UpdateItem", "Query"];

function sumOf(label: string, metrics: readonly cloudwatch.IMetric[]): cloudwatch.MathExpression {
  return combine(label, "SUM", metrics);
}

function maxOf(label: string, metrics: readonly cloudwatch.IMetric[]): cloudwatch.MathExpression {
  return combine(label, "MAX", metrics);
}

function combine(
  label: string,
  fn: "SUM" | "MAX",
  metrics: readonly cloudwatch.IMetric[],
): cloudwatch.MathExpression {
  // Ids from the label: two expressions drawn on one graph may not share one.
  const prefix = label.toLowerCase().replace(/[^a-z]/g, "");
  const usingMetrics = Object.fromEntries(metrics.map((metric, i) => [`${prefix}${i}`, metric]));
  return new cloudwatch.MathExpression({
    label,
    expression: `${fn}([${Object.keys(usingMetrics).join(", ")}])`,
    usingMetrics,
    period: FIVE_MINUTES,
  });
}

/** The canary: GET `<url>/health` for every URL, failing the run on anything but 200. */
function canaryScript(): string {
  return `
const https = require("https");
const get = (url) =>
  new Promise((resolve, reject) => {
    const request = https.get(url, { timeout: 10000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on("timeout", () => request.destroy(new Error("timeout after 10 s: " + url)));
    request.on("error", reject);
  });
exports.handler = async () => {
  const urls = (process.env.STEADFAST_UPTIME_URLS || "").split(" ").filter(Boolean);
  for (const url of urls) {
    const status = await get(url.replace(/\\/$/, "") + "/health");
    if (status !== 200) throw new Error(url + "/health answered " + status);
  }
  return "ok";
};
`;
}
