import { mkdirSync, writeFileSync } from "node:fs";
import type http from "node:http";
import { join, resolve as resolvePath } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { generateApiKey } from "../lambdas/domain/api-key.ts";
import { synthesize } from "./assembly.ts";
import { startDynamoDb, startSes, startSqs } from "./emulators.ts";
import { SqsEventSource } from "./event-source.ts";
import { FaultProxy } from "./fault-proxy.ts";
import { FunctionPool } from "./function-pool.ts";
import { SharedEndpoint } from "./shared-endpoint.ts";
import { serveHttpApi } from "./http-api.ts";
import { resolve } from "./intrinsics.ts";
import { LOCAL_CREDENTIALS, localSesAccount } from "./local-account.ts";
import { freePort, ProcessGroup } from "./processes.ts";
import { COORDINATION_REGION_ENV, provisionQueues, provisionTables, secretValues } from "./provision.ts";
import { RegionOutage } from "./region-outage.ts";
import { Replication } from "./replication.ts";
import type { LocalInfo, LocalRuntime, LocalRuntimeOptions, RegionRuntime } from "./runtime-types.ts";
import { serveSecrets } from "./secrets-manager.ts";
import {
  assetModule,
  collectExports,
  hasType,
  httpApiFunction,
  maxConcurrencyFor,
  rateMs,
  functionIdOf,
  refTarget,
  resourcesOf,
  scalar,
  stackScope,
  stringValues,
} from "./template-queries.ts";
import { ControlServer } from "./control.ts";
import { registerControlRoutes } from "./control-routes.ts";
import { registerFeedbackRoutes } from "./control-routes-feedback.ts";
import { MailboxSimulator } from "./mailbox-simulator.ts";
import { ENV } from "../lambdas/contracts/env.ts";

export type { LocalRuntime, LocalRuntimeOptions } from "./runtime-types.ts";
export { coordinationClient, localDocumentClient } from "./local-clients.ts";

/** The senders' rate cap when the options name none. */
const DEFAULT_SEND_RATE = 100;

/** The options that change the app itself (each a cdk.out of its own). */
function appSettings(options: LocalRuntimeOptions): Record<string, string> {
  return {
    ...(options.coordination ? { coordination: options.coordination } : {}),
    ...(options.sendMode ? { sendMode: options.sendMode } : {}),
  };
}

/**
 * The context the app is synthesized with. The send rate is not part of it: it reaches the senders
 * through their environment, so runtimes at different rates (tests, the bench, `npm start`) share
 * one synthesized app instead of each synthesizing it again (several seconds each time).
 */
export function synthContext(options: LocalRuntimeOptions): Record<string, string> {
  return { maxSendRate: String(DEFAULT_SEND_RATE), ...appSettings(options) };
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
  const logDir = options.logDir ? resolvePath(options.logDir) : join(stateDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const warn = options.onWarning ?? (() => {});
  const apiKey = options.apiKey ?? process.env.STEADFAST_API_KEY ?? generateApiKey();

  // Another setting is another app: synthesized beside the default one, so neither invalidates the other.
  const variant = Object.entries(appSettings(options))
    .map(([key, value]) => `-${key}-${value}`)
    .join("");
  const outDir = variant ? join(stateDir, `cdk.out${variant}`) : join(projectDir, "cdk.out");
  const assembly = synthesize(projectDir, outDir, synthContext(options));
  const regionStacks = assembly.stacks.filter((s) => hasType(s, "AWS::Lambda::Function"));
  if (regionStacks.length === 0) throw new Error("the synthesized app has no functions");

  const group = new ProcessGroup();
  const servers: http.Server[] = [];
  const pools: FunctionPool[] = [];
  const sources: SqsEventSource[] = [];
  const proxies: FaultProxy[] = [];
  const timers: NodeJS.Timeout[] = [];
  const control = new ControlServer();
  const shared = new SharedEndpoint();
  let replication: Replication | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    await control.close();
    await shared.stop();
    await Promise.allSettled(sources.map((s) => s.stop()));
    await replication?.stop();
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
        startSes(
          group,
          logDir,
          s.region,
          localSesAccount(options.sesMaxSendRate ?? options.sendRate ?? DEFAULT_SEND_RATE),
        ),
      ),
    ]);

    // Tables: a replica of each global table per region, replicated asynchronously between them.
    // The strongly consistent tables: one store for every region, not replicated.
    const { names: tableNames, globalTables, coordination } = await provisionTables(assembly, dynamo.url);
    const exports = collectExports(assembly, tableNames);
    replication = new Replication(dynamo.url, globalTables, {
      lagMs: options.replicationLagMs ?? 1000,
      onWarning: warn,
    });
    await replication.start();

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
      // What a region's functions write is read from its streams at once, not at the next poll.
      const nudged = replication;
      regionProxies.dynamodb.onDynamoWrite = () => nudged.nudge(stack.region);
      sesProxies.set(stack.region, regionProxies.ses);
      const parts = {
        name: stack.region,
        proxies: regionProxies,
        pools: new Map<string, FunctionPool>(),
        eventSources: [] as SqsEventSource[],
      };
      regions.push({
        ...parts,
        apiUrl: "",
        sesUrl: sesEmulator.url,
        queues: new Map(),
        outage: new RegionOutage(parts, replication),
      });
    }
    const sesEndpoints = JSON.stringify(Object.fromEntries([...sesProxies].map(([r, p]) => [r, p.url])));

    // The shared hostname is known before the functions start: every mailed URL names it.
    const sharedUrl = await shared.listen(options.sharedApiPort ?? 0);
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
        const role = environment[ENV.function] ?? logicalId;
        const maxWorkers = maxConcurrencyFor(stack, logicalId) ?? 4;
        const pool = new FunctionPool(
          {
            name: `${stack.stackName}-${logicalId}`,
            role,
            region: stack.region,
            modulePath: assetModule(assembly, resource),
            handler: scalar(props.Handler, "index.handler").split(".").pop() ?? "handler",
            timeoutSeconds: Number(props.Timeout ?? 3),
            memoryMb: Number(props.MemorySize ?? 128),
            environment: {
              ...stringValues(environment),
              // Mailed URLs name the shared hostname, which outlives any one region.
              ...(environment[ENV.publicApiUrl] !== undefined ? { [ENV.publicApiUrl]: sharedUrl } : {}),
              PATH: process.env.PATH ?? "",
              AWS_REGION: stack.region,
              AWS_DEFAULT_REGION: stack.region,
              AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
              AWS_ENDPOINT_URL_DYNAMODB: region.proxies.dynamodb.url,
              AWS_ENDPOINT_URL_SQS: region.proxies.sqs.url,
              AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${secretsPort}`,
              [ENV.sesEndpoints]: sesEndpoints,
              AWS_LAMBDA_FUNCTION_NAME: `${stack.stackName}-${logicalId}`,
              AWS_LAMBDA_FUNCTION_MEMORY_SIZE: scalar(props.MemorySize, "128"),
              AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
              // No CloudWatch locally: the age of a queue's oldest message comes from the emulator.
              [ENV.sqsInspectUrl]: sqs.url,
              // Webhook receivers run on this machine: plain HTTP to loopback is allowed here only.
              [ENV.loopbackWebhooks]: "true",
              // Strongly consistent tables are one store here: every region signs its calls to
              // them with the store's region, through its own endpoint (unset on AWS).
              ...(coordination ? { [COORDINATION_REGION_ENV]: coordination.region } : {}),
              // The send rate is the senders' setting, not the app's: no new synthesis per rate.
              ...(environment[ENV.maxSendRate] !== undefined
                ? { [ENV.maxSendRate]: String(options.sendRate ?? DEFAULT_SEND_RATE) }
                : {}),
              ...(environment[ENV.ownerLeaseSeconds] !== undefined && options.ownerLeaseSeconds !== undefined
                ? { [ENV.ownerLeaseSeconds]: String(options.ownerLeaseSeconds) }
                : {}),
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
        const functionId = functionIdOf(stack, props.FunctionName);
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
        const everyMs = options.scheduleIntervalMs ?? rateMs(scalar(rule.Properties?.ScheduleExpression, ""));
        const targetsOf = (rule.Properties?.Targets as { Arn?: unknown }[] | undefined) ?? [];
        for (const target of targetsOf) {
          const pool = functions.get(functionIdOf(stack, target.Arn) ?? "");
          if (!pool || !everyMs) continue;
          let running = false;
          timers.push(
            setInterval(() => {
              // EventBridge's schedules in a region that is down do not fire.
              if (running || region.outage.down) return;
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
      const apiServer = await serveHttpApi(apiPool, apiPort, `local-${stack.region}`);
      servers.push(apiServer);
      region.outage.serveApi(apiServer, apiPort);
    }

    shared.route(regions);
    registerControlRoutes(control, regions, replication);
    registerFeedbackRoutes(
      control,
      new MailboxSimulator(regions, regionStacks, sqs.url, options.sesEvents ?? "all"),
    );
    const controlUrl = await control.listen();
    const first = regions[0] as RegionRuntime;
    const info: LocalInfo = {
      apiUrl: first.apiUrl,
      sharedApiUrl: sharedUrl,
      apiKey,
      controlUrl,
      regions: regions.map((r) => ({ name: r.name, apiUrl: r.apiUrl, sesUrl: r.sesUrl })),
      dynamodbUrl: dynamo.url,
      processes: [{ name: "runtime", pid: process.pid }, ...group.pids()],
    };
    if (options.writeInfo ?? true)
      writeFileSync(join(stateDir, "local.json"), `${JSON.stringify(info, null, 2)}\n`);
    return {
      info,
      regions,
      assembly,
      logDir,
      endpoints: { dynamodb: dynamo.url, sqs: sqs.url, secretsManager: `http://127.0.0.1:${secretsPort}` },
      replication,
      ...(coordination ? { coordination } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
