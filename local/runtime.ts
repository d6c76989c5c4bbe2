import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import type http from "node:http";
import { join, resolve as resolvePath } from "node:path";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { generateApiKey } from "../lambdas/domain/api-key.ts";
import { type Assembly, type CfnResource, type StackTemplate, synthesize } from "./assembly.ts";
import { startDynamoDb, startSes, startSqs } from "./emulators.ts";
import { SqsEventSource } from "./event-source.ts";
import { FaultProxy, type ServiceName } from "./fault-proxy.ts";
import { FunctionPool } from "./function-pool.ts";
import { serveHttpApi } from "./http-api.ts";
import { type ResolveScope, resolve } from "./intrinsics.ts";
import { freePort, ProcessGroup } from "./processes.ts";
import { serveSecrets } from "./secrets-manager.ts";
import { ControlServer } from "./control.ts";
import { registerControlRoutes } from "./control-routes.ts";
import { registerFeedbackRoutes } from "./control-routes-feedback.ts";
import { MailboxSimulator } from "./mailbox-simulator.ts";

export const LOCAL_ACCOUNT = "000000000000";
const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

export interface LocalRuntimeOptions {
  /** Project root (where cdk.json is). @default process.cwd() */
  readonly projectDir?: string;
  /** Port of the first region's API; the others follow. 0 picks free ports. @default 0 */
  readonly apiPort?: number;
  /** @default STEADFAST_API_KEY, else a new random key */
  readonly apiKey?: string;
  /** The send rate (per second, per region) the app is synthesized with; local SES has no real limit. @default 100 */
  readonly sendRate?: number;
  /** Write `.steadfast/local.json`. @default true */
  readonly writeInfo?: boolean;
  /**
   * Run schedules (EventBridge rules) this often instead of at their own rate, so tests need not
   * wait a minute. @default the rule's own rate
   */
  readonly scheduleIntervalMs?: number;
  /**
   * The MaxSendRate each region's SES emulator reports through GetAccount (the sender paces at the
   * lower of it and the configured cap). @default sendRate
   */
  readonly sesMaxSendRate?: number;
  /**
   * Time compression for tests: extra environment per function role (`sender`, `fanout`, …), e.g. a
   * shorter send lease, and a cap on queue visibility timeouts, so that what a crash leaves behind
   * comes back in seconds instead of minutes. Production values come from the templates.
   */
  readonly environment?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly maxVisibilityTimeoutSeconds?: number;
  /** Called with problems the runtime itself hits (poller errors and the like). */
  readonly onWarning?: (message: string) => void;
}

export interface LocalInfo {
  readonly apiUrl: string;
  readonly apiKey: string;
  /** Fault injection, crashes and statistics: see local/control-routes.ts. */
  readonly controlUrl: string;
  readonly regions: { name: string; apiUrl: string; sesUrl: string }[];
}

export interface RegionRuntime {
  readonly name: string;
  readonly apiUrl: string;
  readonly sesUrl: string;
  readonly proxies: Record<ServiceName, FaultProxy>;
  readonly pools: Map<string, FunctionPool>;
  readonly eventSources: SqsEventSource[];
  /** Queue URLs by the queue's logical id in the template. */
  readonly queues: Map<string, { url: string; arn: string }>;
}

export interface LocalRuntime {
  readonly info: LocalInfo;
  readonly regions: RegionRuntime[];
  readonly assembly: Assembly;
  readonly endpoints: { dynamodb: string; sqs: string };
  stop(): Promise<void>;
}

/**
 * A DynamoDB document client on the runtime's DynamoDB Local, for tests, benchmarks and setup
 * scripts that look at or seed the tables directly.
 */
export function localDocumentClient(runtime: Pick<LocalRuntime, "endpoints">): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: "us-east-1",
      endpoint: runtime.endpoints.dynamodb,
      credentials: LOCAL_CREDENTIALS,
    }),
  );
}

/**
 * Runs the synthesized CDK app on loopback: emulators for DynamoDB, SQS and SES (one per region),
 * fault proxies in front of them, every function from its built asset with its template's
 * environment, each SQS event source polled with Lambda's semantics and each HTTP API served on a
 * port of its own.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const projectDir = resolvePath(options.projectDir ?? process.cwd());
  const stateDir = join(projectDir, ".steadfast");
  const logDir = join(stateDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const warn = options.onWarning ?? (() => {});
  const apiKey = options.apiKey ?? process.env.STEADFAST_API_KEY ?? generateApiKey();

  const assembly = synthesize(projectDir, join(projectDir, "cdk.out"), {
    maxSendRate: String(options.sendRate ?? 100),
  });
  const regionStacks = assembly.stacks.filter((s) => hasType(s, "AWS::Lambda::Function"));
  if (regionStacks.length === 0) throw new Error("the synthesized app has no functions");

  const group = new ProcessGroup();
  const servers: http.Server[] = [];
  const pools: FunctionPool[] = [];
  const sources: SqsEventSource[] = [];
  const proxies: FaultProxy[] = [];
  const timers: NodeJS.Timeout[] = [];
  const control = new ControlServer();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    await control.close();
    await Promise.allSettled(sources.map((s) => s.stop()));
    await Promise.allSettled(pools.map((p) => p.close()));
    await Promise.allSettled(servers.map((s) => new Promise((r) => s.close(r))));
    for (const s of servers) s.closeAllConnections?.();
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await group.stopAll();
  };

  try {
    const [dynamo, sqs, ...ses] = await Promise.all([
      startDynamoDb(group, logDir),
      startSqs(group, logDir),
      ...regionStacks.map((s) =>
        startSes(group, logDir, s.region, sesAccount(options.sesMaxSendRate ?? options.sendRate ?? 100)),
      ),
    ]);

    // Tables: one DynamoDB Local with -sharedDb stands for every replica of a global table.
    const tableNames = await provisionTables(assembly, dynamo.url);
    const exports = collectExports(assembly, tableNames);

    const secretsPort = await freePort();
    const secrets = await serveSecrets(secretValues(assembly, apiKey), secretsPort);
    servers.push(secrets);

    const regions: RegionRuntime[] = [];
    const sesProxies = new Map<string, FaultProxy>();
    for (const [i, stack] of regionStacks.entries()) {
      const sesEmulator = ses[i];
      if (!sesEmulator) throw new Error("SES emulator missing");
      const regionProxies = {
        ses: new FaultProxy("ses", stack.region, sesEmulator.url, await freePort()),
        dynamodb: new FaultProxy("dynamodb", stack.region, dynamo.url, await freePort()),
        sqs: new FaultProxy("sqs", stack.region, sqs.url, await freePort()),
      };
      for (const proxy of Object.values(regionProxies)) {
        await proxy.start();
        proxies.push(proxy);
      }
      sesProxies.set(stack.region, regionProxies.ses);
      regions.push({
        name: stack.region,
        apiUrl: "",
        sesUrl: sesEmulator.url,
        proxies: regionProxies,
        pools: new Map(),
        eventSources: [],
        queues: new Map(),
      });
    }
    const sesEndpoints = JSON.stringify(Object.fromEntries([...sesProxies].map(([r, p]) => [r, p.url])));

    let nextApiPort = options.apiPort ?? 0;
    for (const [i, stack] of regionStacks.entries()) {
      const region = regions[i] as RegionRuntime;
      const sqsClient = new SQSClient({
        region: stack.region,
        endpoint: region.proxies.sqs.url,
        credentials: LOCAL_CREDENTIALS,
        useQueueUrlAsEndpoint: false,
      });
      await provisionQueues(
        stack,
        sqsClient,
        region.queues,
        exports,
        tableNames,
        options.maxVisibilityTimeoutSeconds,
      );
      const scope = stackScope(stack, region.queues, tableNames, exports);
      // The API port is chosen before the functions start: the sender puts it in unsubscribe links.
      const apiPort = nextApiPort !== 0 ? nextApiPort++ : await freePort();
      (region as { apiUrl: string }).apiUrl = `http://127.0.0.1:${apiPort}`;

      const functions = new Map<string, FunctionPool>();
      for (const [logicalId, resource] of resourcesOf(stack, "AWS::Lambda::Function")) {
        const props = resource.Properties ?? {};
        const environment = resolve(
          (props.Environment as { Variables?: unknown })?.Variables ?? {},
          scope,
        ) as Record<string, string>;
        const role = environment.STEADFAST_FUNCTION ?? logicalId;
        const maxWorkers = maxConcurrencyFor(stack, logicalId) ?? 4;
        const pool = new FunctionPool(
          {
            name: `${stack.stackName}-${logicalId}`,
            role,
            region: stack.region,
            modulePath: assetModule(assembly, resource),
            handler:
              String(props.Handler ?? "index.handler")
                .split(".")
                .pop() ?? "handler",
            timeoutSeconds: Number(props.Timeout ?? 3),
            memoryMb: Number(props.MemorySize ?? 128),
            environment: {
              ...stringValues(environment),
              // The API's public URL (an HTTPS stage URL on AWS) is the local API's URL here.
              ...(environment.PUBLIC_API_URL !== undefined ? { PUBLIC_API_URL: region.apiUrl } : {}),
              PATH: process.env.PATH ?? "",
              AWS_REGION: stack.region,
              AWS_DEFAULT_REGION: stack.region,
              AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
              AWS_ENDPOINT_URL_DYNAMODB: region.proxies.dynamodb.url,
              AWS_ENDPOINT_URL_SQS: region.proxies.sqs.url,
              AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${secretsPort}`,
              STEADFAST_SES_ENDPOINTS: sesEndpoints,
              AWS_LAMBDA_FUNCTION_NAME: `${stack.stackName}-${logicalId}`,
              AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(props.MemorySize ?? 128),
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
              // No CloudWatch locally: the age of a queue's oldest message comes from the emulator.
              STEADFAST_SQS_INSPECT_URL: sqs.url,
              ...(options.environment?.[role] ?? {}),
            },
          },
          maxWorkers,
          group,
          logDir,
        );
        functions.set(logicalId, pool);
        region.pools.set(role, pool);
        pools.push(pool);
      }

      for (const [, mapping] of resourcesOf(stack, "AWS::Lambda::EventSourceMapping")) {
        const props = mapping.Properties ?? {};
        const functionId = refTarget(props.FunctionName);
        const queueId = refTarget(props.EventSourceArn);
        const pool = functionId ? functions.get(functionId) : undefined;
        const queue = queueId ? region.queues.get(queueId) : undefined;
        if (!pool || !queue)
          throw new Error(`event source mapping in ${stack.stackName} names an unknown function or queue`);
        const source = new SqsEventSource(
          {
            queueUrl: queue.url,
            queueArn: queue.arn,
            region: stack.region,
            batchSize: Number(props.BatchSize ?? 10),
            maxBatchingWindowSeconds: Number(props.MaximumBatchingWindowInSeconds ?? 0),
            maxConcurrency: Number(
              (props.ScalingConfig as { MaximumConcurrency?: number })?.MaximumConcurrency ?? 5,
            ),
            reportBatchItemFailures: ((props.FunctionResponseTypes as string[]) ?? []).includes(
              "ReportBatchItemFailures",
            ),
          },
          pool,
          sqsClient,
          (error) => warn(`${pool.spec.role} (${stack.region}): ${error.message}`),
        );
        source.start();
        sources.push(source);
        region.eventSources.push(source);
      }

      for (const [, rule] of resourcesOf(stack, "AWS::Events::Rule")) {
        const everyMs =
          options.scheduleIntervalMs ?? rateMs(String(rule.Properties?.ScheduleExpression ?? ""));
        const targetsOf = (rule.Properties?.Targets as { Arn?: unknown }[] | undefined) ?? [];
        for (const target of targetsOf) {
          const pool = functions.get(refTarget(target.Arn) ?? "");
          if (!pool || !everyMs) continue;
          let running = false;
          timers.push(
            setInterval(() => {
              if (running) return;
              running = true;
              pool
                .invoke({
                  "detail-type": "Scheduled Event",
                  source: "aws.events",
                  time: new Date().toISOString(),
                  detail: {},
                })
                .catch((error: Error) => warn(`${pool.spec.role} (${stack.region}): ${error.message}`))
                .finally(() => {
                  running = false;
                });
            }, everyMs),
          );
        }
      }

      const apiFunction = httpApiFunction(stack);
      const apiPool = apiFunction ? functions.get(apiFunction) : undefined;
      if (!apiPool) throw new Error(`${stack.stackName} has no HTTP API with a Lambda integration`);
      servers.push(await serveHttpApi(apiPool, apiPort, `local-${stack.region}`));
    }

    registerControlRoutes(control, regions);
    registerFeedbackRoutes(control, new MailboxSimulator(regions, regionStacks, sqs.url));
    const controlUrl = await control.listen();
    const first = regions[0] as RegionRuntime;
    const info: LocalInfo = {
      apiUrl: first.apiUrl,
      apiKey,
      controlUrl,
      regions: regions.map((r) => ({ name: r.name, apiUrl: r.apiUrl, sesUrl: r.sesUrl })),
    };
    if (options.writeInfo ?? true)
      writeFileSync(join(stateDir, "local.json"), `${JSON.stringify(info, null, 2)}\n`);
    return { info, regions, assembly, endpoints: { dynamodb: dynamo.url, sqs: sqs.url }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Milliseconds of an EventBridge `rate(N unit)` expression; undefined for cron expressions. */
function rateMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  const unit = m[2]?.startsWith("minute") ? 60_000 : m[2]?.startsWith("hour") ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

function hasType(stack: StackTemplate, type: string): boolean {
  return Object.values(stack.resources).some((r) => r.Type === type);
}

function resourcesOf(stack: StackTemplate, type: string): [string, CfnResource][] {
  return Object.entries(stack.resources).filter(([, r]) => r.Type === type);
}

function refTarget(value: unknown): string | undefined {
  if (value && typeof value === "object") {
    const v = value as { Ref?: string; "Fn::GetAtt"?: [string, string] };
    if (v.Ref) return v.Ref;
    if (v["Fn::GetAtt"]) return v["Fn::GetAtt"][0];
  }
  return undefined;
}

function stringValues(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function maxConcurrencyFor(stack: StackTemplate, functionId: string): number | undefined {
  for (const [, mapping] of resourcesOf(stack, "AWS::Lambda::EventSourceMapping")) {
    if (refTarget(mapping.Properties?.FunctionName) === functionId) {
      return Number(
        (mapping.Properties?.ScalingConfig as { MaximumConcurrency?: number })?.MaximumConcurrency ?? 5,
      );
    }
  }
  return undefined;
}

function assetModule(assembly: Assembly, resource: CfnResource): string {
  const assetPath = resource.Metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string") throw new Error("function has no asset path in its metadata");
  const dir = join(assembly.dir, assetPath);
  for (const file of ["index.mjs", "index.js", "index.cjs"])
    if (existsSync(join(dir, file))) return join(dir, file);
  throw new Error(`no index.mjs or index.js in asset ${assetPath}`);
}

/** The function behind the HTTP API's routes (an AWS_PROXY integration whose URI is a function ARN). */
function httpApiFunction(stack: StackTemplate): string | undefined {
  for (const [, integration] of resourcesOf(stack, "AWS::ApiGatewayV2::Integration")) {
    const target = refTarget(integration.Properties?.IntegrationUri);
    if (target && stack.resources[target]?.Type === "AWS::Lambda::Function") return target;
  }
  return undefined;
}

function sesAccount(rate: number) {
  return {
    DedicatedIpAutoWarmupEnabled: false,
    Details: {
      AdditionalContactEmailAddresses: [],
      ContactLanguage: "EN",
      MailType: "MARKETING",
      ReviewDetails: { CaseId: "local", Status: "GRANTED" },
      UseCaseDescription: "local emulator",
      WebsiteURL: "https://example.com",
    },
    EnforcementStatus: "HEALTHY",
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: 1_000_000, MaxSendRate: rate, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: ["BOUNCE", "COMPLAINT"] },
  };
}

/** Secret values by name: the admin API key is the runtime's key; any other secret gets a random value. */
function secretValues(assembly: Assembly, apiKey: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const stack of assembly.stacks) {
    for (const [logicalId, resource] of resourcesOf(stack, "AWS::SecretsManager::Secret")) {
      const name = String(resource.Properties?.Name ?? logicalId);
      values.set(name, name.endsWith("admin-api-key") ? apiKey : generateApiKey());
    }
  }
  return values;
}

async function provisionTables(assembly: Assembly, endpoint: string): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const stack of assembly.stacks) {
    for (const [logicalId, resource] of Object.entries(stack.resources)) {
      if (resource.Type !== "AWS::DynamoDB::GlobalTable" && resource.Type !== "AWS::DynamoDB::Table")
        continue;
      const props = resource.Properties ?? {};
      const name = typeof props.TableName === "string" ? props.TableName : `${stack.stackName}-${logicalId}`;
      names.set(logicalId, name);
      const client = new DynamoDBClient({ region: stack.region, endpoint, credentials: LOCAL_CREDENTIALS });
      const gsis = (props.GlobalSecondaryIndexes as CreateTableCommandInput["GlobalSecondaryIndexes"]) ?? [];
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: props.KeySchema as CreateTableCommandInput["KeySchema"],
          AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput["AttributeDefinitions"],
          BillingMode: "PAY_PER_REQUEST",
          ...(gsis.length
            ? {
                GlobalSecondaryIndexes: gsis.map((g) => ({
                  IndexName: g.IndexName,
                  KeySchema: g.KeySchema,
                  Projection: g.Projection,
                })),
              }
            : {}),
        }),
      );
      const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
      if (ttl?.Enabled && ttl.AttributeName) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
          }),
        );
      }
      client.destroy();
    }
  }
  return names;
}

type Exports = Map<string, string>;

/** Stack exports (for Fn::ImportValue), from the stacks that own tables: the only values shared across stacks. */
function collectExports(assembly: Assembly, tableNames: Map<string, string>): Exports {
  const exports: Exports = new Map();
  for (const stack of assembly.stacks) {
    const scope = stackScope(stack, new Map(), tableNames, exports);
    for (const output of Object.values(stack.outputs)) {
      if (!output.Export) continue;
      try {
        exports.set(String(resolve(output.Export.Name, scope)), String(resolve(output.Value, scope)));
      } catch {
        // An export the local runtime has no use for.
      }
    }
  }
  return exports;
}

function stackScope(
  stack: StackTemplate,
  queues: Map<string, { url: string; arn: string }>,
  tableNames: Map<string, string>,
  exports: Exports,
): ResolveScope {
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${stack.region}:${LOCAL_ACCOUNT}:${resource}`;
  return {
    region: stack.region,
    accountId: LOCAL_ACCOUNT,
    stackName: stack.stackName,
    ref(id) {
      const type = stack.resources[id]?.Type;
      if (type === "AWS::SQS::Queue") return must(queues.get(id)?.url, id);
      if (type === "AWS::DynamoDB::GlobalTable" || type === "AWS::DynamoDB::Table")
        return must(tableNames.get(id), id);
      if (type === "AWS::Lambda::Function") return `${stack.stackName}-${id}`;
      if (type === "AWS::SecretsManager::Secret")
        return arn("secretsmanager", `secret:${String(stack.resources[id]?.Properties?.Name ?? id)}`);
      if (type === "AWS::SNS::Topic") return arn("sns", id);
      const name = stack.resources[id]?.Properties?.Name;
      return typeof name === "string" ? name : id;
    },
    getAtt(id, attribute) {
      const type = stack.resources[id]?.Type;
      if (type === "AWS::SQS::Queue") {
        const queue = queues.get(id);
        if (attribute === "Arn") return must(queue?.arn, id);
        if (attribute === "QueueUrl") return must(queue?.url, id);
        if (attribute === "QueueName") return must(queue?.arn.split(":").pop(), id);
      }
      if ((type === "AWS::DynamoDB::GlobalTable" || type === "AWS::DynamoDB::Table") && attribute === "Arn") {
        return arn("dynamodb", `table/${must(tableNames.get(id), id)}`);
      }
      if (type === "AWS::Lambda::Function" && attribute === "Arn")
        return arn("lambda", `function:${stack.stackName}-${id}`);
      return `${id}.${attribute}`;
    },
    importValue(name) {
      return must(exports.get(name), name);
    },
  };
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`cannot resolve ${what} locally`);
  return value;
}

/** Creates a stack's queues in its region; DLQs first, then the queues whose redrive policy names them. */
async function provisionQueues(
  stack: StackTemplate,
  sqs: SQSClient,
  queues: Map<string, { url: string; arn: string }>,
  exports: Exports,
  tableNames: Map<string, string>,
  maxVisibility?: number,
): Promise<void> {
  const all = resourcesOf(stack, "AWS::SQS::Queue");
  for (const [logicalId, resource] of all) {
    const props = resource.Properties ?? {};
    const name =
      typeof props.QueueName === "string" ? props.QueueName : `${stack.stackName}-${logicalId}`.slice(0, 80);
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
      "MaximumMessageSize",
    ]) {
      if (props[key] !== undefined) attributes[key] = String(props[key]);
    }
    if (maxVisibility !== undefined && Number(attributes.VisibilityTimeout ?? 30) > maxVisibility) {
      attributes.VisibilityTimeout = String(maxVisibility);
    }
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = created.QueueUrl as string;
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
    );
    queues.set(logicalId, { url, arn: attrs.Attributes?.QueueArn as string });
  }
  const scope = stackScope(stack, queues, tableNames, exports);
  for (const [logicalId, resource] of all) {
    const redrive = resource.Properties?.RedrivePolicy;
    if (!redrive) continue;
    const policy = resolve(redrive, scope) as { deadLetterTargetArn: string; maxReceiveCount: number };
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: (queues.get(logicalId) as { url: string }).url,
        Attributes: { RedrivePolicy: JSON.stringify(policy) },
      }),
    );
  }
}
