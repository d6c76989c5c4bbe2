import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { acknowledge } from "../nag.ts";
import { LEDGER_INDEXES } from "../../lambdas/contracts/tables.ts";
import { RUNBOOK, withRunbook } from "../runbook.ts";
import type { QueueWithDlq } from "./queue-with-dlq.ts";
import { type FunctionCodeProps, ServiceFunction } from "./service-function.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

// An HTTP API waits at most 30 s for its integration.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
const MAX_INTEGRATION_TIMEOUT = Duration.seconds(30);

export interface IntakeApiProps extends FunctionCodeProps {
  /** Names and describes the API ("<appName> API (<region>)") and its 5xx alarm. */
  readonly appName: string;
  readonly audienceTable: dynamodb.ITableV2;
  readonly ledgerTable: dynamodb.ITableV2;
  /** The first admin API key. */
  readonly adminApiKey: secretsmanager.ISecret;
  /** Key unsubscribe links are signed with: the API verifies them. */
  readonly unsubscribeKey: secretsmanager.ISecret;
  /** Campaigns may only send from this domain (the verified identity's) or a subdomain of it. */
  readonly senderDomain: string;
  /** The `from` of campaigns that do not name one. */
  readonly defaultFromAddress: string;
  /** Where campaigns are started; administered too (depths, DLQ redrive). */
  readonly fanoutQueue: QueueWithDlq;
  /** Administered: depths and DLQ redrive. */
  readonly sendQueue: QueueWithDlq;
  /** Where CSV import chunks and list erasures are enqueued. */
  readonly audienceJobsQueue: QueueWithDlq;
  /** Steady-state requests per second and burst of the stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Requests per second and burst each API key may make, per api function container (429 with
   * Retry-After beyond).
   * @default { rateLimit: 20, burstLimit: 40 }
   */
  readonly keyThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Route-level throttles of the public routes, apart from the stage's so that API clients cannot
   * starve unsubscribes (`/u/{token}`, `/p/{token}`), confirmations (`/c/{token}`) or health checks.
   * @default unsubscribe 100/s (burst 200), health 10/s (burst 20)
   */
  readonly publicThrottle?: {
    readonly unsubscribe: { readonly rateLimit: number; readonly burstLimit: number };
    readonly health: { readonly rateLimit: number; readonly burstLimit: number };
  };
  /**
   * Timeout of the api function. At most 30 s, the longest an HTTP API waits for its integration.
   * The default is the most the HTTP API allows less a second, so that the function's own timeout
   * (logged, and counted by its error alarm) ends a request before the HTTP API gives up: a bulk
   * write (1,000 subscribers in one `PUT`) gets all that time to end whole rather than half done.
   * @default Duration.seconds(29)
   */
  readonly timeout?: Duration;
}

/**
 * The HTTP API of a region: every route goes to the api function, on a throttled `$default` stage
 * with JSON access logs, and an alarm on 5xx responses. The public routes (`/u/{token}`,
 * `/health`) have routes and throttles of their own; `$default` serves the rest.
 */
export class IntakeApi extends Construct {
  public readonly function: ServiceFunction;
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly accessLogs: logs.LogGroup;
  /** 5 or more 5xx responses in 5 minutes. */
  public readonly serverErrorAlarm: cloudwatch.Alarm;
  /** The function's alarm and the 5xx alarm. */
  public readonly alarms: readonly cloudwatch.Alarm[];
  /** Base URL of the stage (HTTPS). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: IntakeApiProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    const timeout = props.timeout ?? MAX_INTEGRATION_TIMEOUT.minus(Duration.seconds(1));
    const keyThrottle = props.keyThrottle ?? { rateLimit: 20, burstLimit: 40 };
    const publicThrottle = props.publicThrottle ?? {
      unsubscribe: { rateLimit: 100, burstLimit: 200 },
      health: { rateLimit: 10, burstLimit: 20 },
    };
    if (timeout.toSeconds() > MAX_INTEGRATION_TIMEOUT.toSeconds()) {
      throw new Error(
        `IntakeApi ${this.node.path}: timeout (${timeout.toSeconds()} s) exceeds the ` +
          `${MAX_INTEGRATION_TIMEOUT.toSeconds()} s an HTTP API waits for its integration`,
      );
    }

    this.function = new ServiceFunction(this, "Function", {
      service: "api",
      entry: props.entry,
      projectRoot: props.projectRoot,
      logRetention: props.logRetention,
      timeout,
      memorySize: 512,
      environment: {
        [ENV.senderDomain]: props.senderDomain,
        [ENV.defaultFromAddress]: props.defaultFromAddress,
        [ENV.apiKeyRateLimit]: String(keyThrottle.rateLimit),
        [ENV.apiKeyBurstLimit]: String(keyThrottle.burstLimit),
      },
    });
    const fn = this.function;
    fn.bindTable(ENV.audienceTable, props.audienceTable, "readWrite");
    fn.bindTable(ENV.ledgerTable, props.ledgerTable, "readWrite", LEDGER_INDEXES);
    fn.bindSecret(ENV.adminKeySecretId, props.adminApiKey);
    fn.bindSecret(ENV.unsubscribeSecretId, props.unsubscribeKey);
    fn.bindQueue(ENV.fanoutQueueUrl, props.fanoutQueue, "send");
    fn.bindQueue(ENV.audienceJobsQueueUrl, props.audienceJobsQueue, "send");
    // Resume enqueues a paused campaign's held recipients again.
    fn.bindQueue(ENV.sendQueueUrl, props.sendQueue, "send");
    // Queue administration: depths (GET /v1/admin/queues) and DLQ redrive (POST /v1/admin/dlq/redrive).
    fn.bindQueue(ENV.sendQueueUrl, props.sendQueue, "monitor");
    fn.bindQueue(ENV.fanoutDlqUrl, props.fanoutQueue, "redrive");
    fn.bindQueue(ENV.sendDlqUrl, props.sendQueue, "redrive");
    // ApproximateAgeOfOldestMessage is only a CloudWatch metric, and GET /health asks the region's
    // SES whether it answers (GetAccount): neither action has resource-level permissions.
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["cloudwatch:GetMetricData", "ses:GetAccount"], resources: ["*"] }),
    );

    const integration = new HttpLambdaIntegration("ApiIntegration", fn.alias, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    // Routes carry no API Gateway authorizer: every /v1 route authenticates in the function
    // (hashed API keys with scopes); /health and the one-click unsubscribe links are public by design.
    this.httpApi = new apigwv2.HttpApi(this, "HttpApi", {
      description: `${props.appName} API (${region})`,
      defaultIntegration: integration,
      // The default stage is created below to configure throttling and access logs.
      createDefaultStage: false,
    });
    acknowledge(this.httpApi, {
      "AwsSolutions::AwsSolutions-APIG4":
        "The function authorizes every /v1 request (hashed API keys, scopes); /health, /u/{token}, /p/{token} and /c/{token} (signed mailed links) are public",
    });
    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = this.httpApi.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            requestTime: "$context.requestTimeEpoch",
            // The route key ("POST /u/{token}"), never the path: paths hold unsubscribe tokens and
            // subscribers' addresses.
            routeKey: "$context.routeKey",
            status: "$context.status",
            latencyMs: "$context.responseLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    // The public routes get routes of their own, each throttled apart from `$default` (every API
    // client): a client at the stage's limit cannot starve unsubscribes or health checks.
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
    const publicRoutes = [
      {
        path: "/u/{token}",
        methods: [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
        ...publicThrottle.unsubscribe,
      },
      // The preference center, reached from the same signed links.
      {
        path: "/p/{token}",
        methods: [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
        ...publicThrottle.unsubscribe,
      },
      // Double opt-in confirmation links.
      {
        path: "/c/{token}",
        methods: [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
        ...publicThrottle.unsubscribe,
      },
      { path: "/health", methods: [apigwv2.HttpMethod.GET], ...publicThrottle.health },
    ];
    // A JSON map in CloudFormation: its values are passed as they are, hence the CloudFormation case.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of publicRoutes) {
      const routes = this.httpApi.addRoutes({ path: route.path, methods: route.methods, integration });
      for (const method of route.methods) {
        routeSettings[`${method} ${route.path}`] = {
          ThrottlingRateLimit: route.rateLimit,
          ThrottlingBurstLimit: route.burstLimit,
        };
      }
      // Route settings name route keys: the routes must exist before the stage refers to them.
      for (const created of routes) this.stage.node.addDependency(created);
    }
    (this.stage.node.defaultChild as apigwv2.CfnStage).routeSettings = routeSettings;
    this.url = this.stage.url;

    this.serverErrorAlarm = this.stage
      .metricServerError({ period: Duration.minutes(5), statistic: "Sum" })
      .createAlarm(this, "ServerErrorAlarm", {
        alarmName: `${props.appName}-${region}-api-5xx`,
        alarmDescription: withRunbook(
          `The ${props.appName} HTTP API in ${region} returned 5 or more 5xx responses in 5 minutes`,
          RUNBOOK.api5xx,
        ),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    // A version that answers 5xx without throwing is rolled back as well.
    fn.addRollbackAlarm(this.serverErrorAlarm);
    this.alarms = [fn.errorsAlarm, this.serverErrorAlarm];
  }
}
