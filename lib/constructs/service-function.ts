import { join } from "node:path";
import { Duration, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as codedeploy from "aws-cdk-lib/aws-codedeploy";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { acknowledge } from "../nag.ts";
import { RUNBOOK, type RunbookSection, withRunbook } from "../runbook.ts";
import type { QueueWithDlq } from "./queue-with-dlq.ts";
import { ENV, type EnvName } from "../../lambdas/contracts/env.ts";

/** The Lambda functions of the pipeline. */
type ServiceName = "api" | "fanout" | "sender" | "scheduler" | "audience-jobs" | "feedback" | "webhooks";

/**
 * Where a function's code lives and how long its logs are kept: every construct that owns a
 * function takes these.
 */
export interface FunctionCodeProps {
  /**
   * Absolute path of the TypeScript entry file; it must export `handler`.
   * @default - `lambdas/<service>/handler.ts` under projectRoot (one of the two is required)
   */
  readonly entry?: string;
  /**
   * Directory holding package-lock.json, used as the bundling root.
   * @default - the lock file is searched upwards from the current directory
   */
  readonly projectRoot?: string;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

export interface ServiceFunctionProps extends FunctionCodeProps {
  /** Which function this is; sets STEADFAST_FUNCTION and the Powertools service name. */
  readonly service: ServiceName;
  /** Function timeout. Required: queue visibility timeouts are derived from it. */
  readonly timeout: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Extra environment variables, merged over the common ones.
   * @default - only the common variables
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * What a function does with a {@link QueueWithDlq}, which decides the URL it is given and what it may do:
 * - `send`: the queue's URL; it may send messages to it.
 * - `consume`: the queue's URL; it may receive and delete messages and change their visibility. The
 *   event source grants the same: this is for a consumer that also calls the queue itself (e.g. sets a
 *   message's visibility as its retry backoff).
 * - `monitor`: the queue's URL; it may read the queue's attributes (its depth).
 * - `deadLetter`: the dead-letter queue's URL; it may send messages to it (a consumer that moves a
 *   message it can never process there at once).
 * - `redrive`: the dead-letter queue's URL; it may read both queues' attributes (depths) and move
 *   dead letters back to the queue.
 */
export type QueueAccess = "send" | "consume" | "monitor" | "deadLetter" | "redrive";

/**
 * What a function does with a table, which decides what it may do:
 * - `read`: read items, query and scan.
 * - `readWrite`: besides reading, write and delete items, in batches and transactions too.
 * - `item`: read, put and update single items by their key, nothing else (no query, scan, delete,
 *   batch or transaction): enough for a record held by conditional writes, such as an owner lease.
 */
export type TableAccess = "read" | "readWrite" | "item";

/** What the functions do with a table's items (no streams, no table administration). */
const TABLE_READ = [
  "dynamodb:BatchGetItem",
  "dynamodb:GetItem",
  "dynamodb:Query",
  "dynamodb:Scan",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
];
const TABLE_WRITE = [
  "dynamodb:BatchWriteItem",
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
];

/** The alias every trigger invokes: API Gateway, SQS event sources and EventBridge. */
const LIVE_ALIAS = "live";

/**
 * How a new version takes over the alias: 10 % of invocations for 5 minutes, then all. CodeDeploy
 * rolls back if an alarm of the deployment group fires in that time.
 */
const DEPLOYMENT_CONFIG = codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES;

/** One CodeDeploy application per stack holds the deployment groups of all its functions. */
function deploymentsOf(scope: Construct): codedeploy.LambdaApplication {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild("Deployments");
  return existing instanceof codedeploy.LambdaApplication
    ? existing
    : new codedeploy.LambdaApplication(stack, "Deployments");
}

/**
 * A bundled Node.js Lambda function with the project's conventions: arm64, X-Ray tracing,
 * its own log group with finite retention, an ESM bundle that includes the AWS SDK, the
 * Powertools environment, and an alarm on any error. Triggers invoke its `live` alias; each deploy
 * publishes a version and shifts the alias to it as a CodeDeploy canary, rolled back automatically
 * when the errors alarm (or another alarm given to {@link addRollbackAlarm}) fires.
 */
export class ServiceFunction extends Construct implements iam.IGrantable {
  public readonly function: NodejsFunction;
  /** What triggers invoke (API Gateway, event sources, EventBridge): the version CodeDeploy shifts to. */
  public readonly alias: lambda.Alias;
  public readonly deployment: codedeploy.LambdaDeploymentGroup;
  public readonly logGroup: logs.LogGroup;
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly grantPrincipal: iam.IPrincipal;
  /** Environment variables set so far, to refuse binding one name to two different values. */
  private readonly environment = new Map<string, string>();

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (Token.isUnresolved(region)) {
      throw new Error(`ServiceFunction ${this.node.path}: the stack needs an explicit region (HOME_REGION)`);
    }

    const entry =
      props.entry ??
      (props.projectRoot === undefined
        ? undefined
        : join(props.projectRoot, "lambdas", props.service, "handler.ts"));
    if (entry === undefined) {
      throw new Error(
        `ServiceFunction ${this.node.path}: give entry, or projectRoot to find lambdas/${props.service}/handler.ts`,
      );
    }

    const environment: Record<string, string> = {
      [ENV.function]: props.service,
      POWERTOOLS_SERVICE_NAME: `steadfast-${props.service}`,
      POWERTOOLS_METRICS_NAMESPACE: "Steadfast",
      POWERTOOLS_LOG_LEVEL: "INFO",
      // Handler responses carry addresses (API bodies): traces keep timings and errors, not payloads.
      POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
      // SDK calls made outside an invocation (a secret read at init) have no segment to attach to;
      // without this the X-Ray SDK logs an error for each. It reads the variable before Powertools
      // can set its own default in an ESM bundle.
      AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
      HOME_REGION: region,
      NODE_OPTIONS: "--enable-source-maps",
      ...props.environment,
    };
    for (const [name, value] of Object.entries(environment)) this.environment.set(name, value);

    // An explicit log group (instead of the implicit /aws/lambda/<name>) lets CloudFormation own
    // its retention and delete it with the stack.
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.function = new NodejsFunction(this, "Function", {
      entry,
      handler: "handler",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      ...(props.projectRoot === undefined
        ? {}
        : { projectRoot: props.projectRoot, depsLockFilePath: join(props.projectRoot, "package-lock.json") }),
      bundling: {
        format: OutputFormat.ESM,
        // The same handlers also run on Node.js 20 outside Lambda, so the bundle targets it.
        target: "node20",
        sourceMap: true,
        minify: false,
        // Prefer the ESM build of dependencies.
        mainFields: ["module", "main"],
        // Bundle everything, including the AWS SDK: pinned versions instead of the runtime's copy.
        externalModules: [],
        bundleAwsSDK: true,
        // Some CommonJS dependencies call require(); give them one inside the ESM bundle.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
      environment,
    });
    this.grantPrincipal = this.function.grantPrincipal;
    acknowledge(this, {
      "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]":
        "Lets the function write its logs, nothing else; AWS keeps it current",
      "AwsSolutions::AwsSolutions-IAM5[Resource::*]":
        "Only for actions with no resource-level permissions: X-Ray PutTraceSegments and PutTelemetryRecords, SES GetAccount, CloudWatch GetMetricData",
      "Serverless::Serverless-LambdaDLQ":
        "Not invoked asynchronously but by SQS (failed messages go to the queue's DLQ) or API Gateway; the scheduler's failed ticks go to its on-failure destination",
      "Serverless::Serverless-LambdaEventSourceMappingDestination":
        "SQS event sources take no on-failure destination: failed messages go to the queue's own DLQ after maxReceiveCount",
    });

    // One-minute periods: a canary's five minutes are evaluated while it runs.
    this.errorsAlarm = this.function
      .metricErrors({ period: Duration.minutes(1), statistic: "Sum" })
      .createAlarm(this, "ErrorsAlarm", {
        alarmDescription: withRunbook(
          `${props.service} function ${this.node.path} reported errors`,
          RUNBOOK.functionErrors,
        ),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    this.alias = new lambda.Alias(this, "Live", {
      aliasName: LIVE_ALIAS,
      version: this.function.currentVersion,
    });
    this.deployment = new codedeploy.LambdaDeploymentGroup(this, "Deployment", {
      application: deploymentsOf(this),
      alias: this.alias,
      deploymentConfig: DEPLOYMENT_CONFIG,
      alarms: [this.errorsAlarm],
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
    });
    acknowledge(this.deployment, {
      "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]":
        "CodeDeploy's own role for Lambda deployments: shift the alias and read the group's alarms; AWS keeps it current",
    });
  }

  /** Another alarm that rolls a deployment of this function back when it fires during the canary. */
  public addRollbackAlarm(alarm: cloudwatch.IAlarm): void {
    this.deployment.addAlarm(alarm);
  }

  /**
   * Publishes the table name as `envName` and grants what `access` allows (see {@link TableAccess})
   * on the table and on exactly the `indexes` named (CDK's read grants would allow `index/*`).
   */
  public bindTable(
    envName: EnvName,
    table: dynamodb.ITableV2,
    access: TableAccess,
    indexes: readonly string[] = [],
  ): void {
    this.setEnvironment(envName, table.tableName);
    const resourceArns = [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index}`)];
    switch (access) {
      case "read":
        iam.Grant.addToPrincipal({ grantee: this.function, actions: TABLE_READ, resourceArns });
        break;
      case "readWrite":
        iam.Grant.addToPrincipal({
          grantee: this.function,
          actions: [...TABLE_READ, ...TABLE_WRITE],
          resourceArns,
        });
        break;
      case "item":
        table.grant(this.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem");
        break;
    }
  }

  /**
   * Publishes the URL `access` needs as `envName` and grants what `access` allows (see
   * {@link QueueAccess}), so the function never has a URL it may not use, nor a grant without the
   * URL. Binding the same name to the same URL again (e.g. `consume` and then `send`) adds the grants.
   */
  public bindQueue(envName: EnvName, queue: QueueWithDlq, access: QueueAccess): void {
    switch (access) {
      case "send":
        this.setEnvironment(envName, queue.queue.queueUrl);
        queue.queue.grantSendMessages(this);
        break;
      case "consume":
        this.setEnvironment(envName, queue.queue.queueUrl);
        queue.queue.grantConsumeMessages(this);
        break;
      case "monitor":
        this.setEnvironment(envName, queue.queue.queueUrl);
        queue.queue.grant(this, "sqs:GetQueueAttributes");
        break;
      case "deadLetter":
        this.setEnvironment(envName, queue.deadLetterQueue.queueUrl);
        queue.deadLetterQueue.grantSendMessages(this);
        break;
      case "redrive":
        this.setEnvironment(envName, queue.deadLetterQueue.queueUrl);
        // Depth of the queue, and the destination of the moved messages.
        queue.queue.grant(this, "sqs:GetQueueAttributes", "sqs:SendMessage");
        // StartMessageMoveTask needs these on the source DLQ; receiving and deleting is the fallback
        // that moves messages one batch at a time.
        // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html
        queue.deadLetterQueue.grant(
          this,
          "sqs:GetQueueAttributes",
          "sqs:StartMessageMoveTask",
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
        );
        break;
    }
  }

  /** Publishes the secret's name as `envName` and grants reading its value. */
  public bindSecret(envName: EnvName, secret: secretsmanager.ISecret): void {
    this.setEnvironment(envName, secret.secretName);
    secret.grantRead(this);
  }

  /** Sets `name` to a plain value, refusing to point a name that is already set at something else. */
  public setEnvironment(name: EnvName, value: string): void {
    const current = this.environment.get(name);
    if (current !== undefined && current !== value) {
      throw new Error(
        `ServiceFunction ${this.node.path}: environment variable ${name} is already set to another value; ` +
          "bind each variable to one resource",
      );
    }
    this.environment.set(name, value);
    this.function.addEnvironment(name, value);
  }
}

/**
 * An alarm on any count of one of the pipeline's own metrics (namespace "Steadfast"), as a service's
 * function emits it: Powertools adds the service name as a dimension to every metric.
 */
export function pipelineCountAlarm(
  scope: Construct,
  id: string,
  props: {
    readonly service: string;
    readonly metricName: string;
    readonly period: Duration;
    readonly alarmName: string;
    readonly description: string;
    readonly runbook: RunbookSection;
  },
): cloudwatch.Alarm {
  return new cloudwatch.Metric({
    namespace: "Steadfast",
    metricName: props.metricName,
    dimensionsMap: { service: `steadfast-${props.service}` },
    period: props.period,
    statistic: "Sum",
  }).createAlarm(scope, id, {
    alarmName: props.alarmName,
    alarmDescription: withRunbook(props.description, props.runbook),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
