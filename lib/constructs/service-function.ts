import { join } from "node:path";
import { Duration, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

/** The Lambda functions of the pipeline. */
export type ServiceName = "api" | "fanout" | "sender" | "scheduler" | "importer" | "feedback";

export interface ServiceFunctionProps {
  /** Which function this is; sets STEADFAST_FUNCTION and the Powertools service name. */
  readonly service: ServiceName;
  /** Absolute path of the TypeScript entry file; it must export `handler`. */
  readonly entry: string;
  /** Function timeout. Required: queue visibility timeouts are derived from it. */
  readonly timeout: Duration;
  /**
   * Memory in MB (CPU scales with it).
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Extra environment variables, merged over the common ones.
   * @default - only the common variables
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Directory holding package-lock.json, used as the bundling root.
   * @default - the lock file is searched upwards from the current directory
   */
  readonly projectRoot?: string;
}

/**
 * A bundled Node.js Lambda function with the project's conventions: arm64, X-Ray tracing,
 * its own log group with finite retention, an ESM bundle that includes the AWS SDK, the
 * Powertools environment, and an alarm on any error.
 */
export class ServiceFunction extends Construct implements iam.IGrantable {
  public readonly function: NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (Token.isUnresolved(region)) {
      throw new Error(`ServiceFunction ${this.node.path}: the stack needs an explicit region (HOME_REGION)`);
    }

    // An explicit log group (instead of the implicit /aws/lambda/<name>) lets CloudFormation own
    // its retention and delete it with the stack.
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.function = new NodejsFunction(this, "Function", {
      entry: props.entry,
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
      environment: {
        STEADFAST_FUNCTION: props.service,
        POWERTOOLS_SERVICE_NAME: `steadfast-${props.service}`,
        POWERTOOLS_METRICS_NAMESPACE: "Steadfast",
        POWERTOOLS_LOG_LEVEL: "INFO",
        HOME_REGION: region,
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
    });
    this.grantPrincipal = this.function.grantPrincipal;

    this.errorsAlarm = this.function
      .metricErrors({ period: Duration.minutes(5), statistic: "Sum" })
      .createAlarm(this, "ErrorsAlarm", {
        alarmDescription: `${props.service} function ${this.node.path} reported errors`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
  }

  /** Publishes the table name as `envName` and grants the matching data-plane access. */
  public bindTable(envName: string, table: dynamodb.ITableV2, access: "read" | "readWrite"): void {
    this.function.addEnvironment(envName, table.tableName);
    if (access === "read") table.grantReadData(this.function);
    else table.grantReadWriteData(this.function);
  }
}
