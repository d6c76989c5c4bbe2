import { describe, expect, it } from "vitest";
import { ENV } from "../../lambdas/contracts/env.ts";
import {
  expectGlobalTables,
  expectQueueUrlsGranted,
  expectReplicatedSecret,
  expectSameShape,
  expectScopedSesPermissions,
  expectSesRegions,
} from "./invariants.ts";
import {
  environment,
  props,
  invokedFunction,
  invokedResource,
  refTarget,
  resource,
  resources,
  serviceFunction,
  serviceFunctions,
  single,
  synthesize,
} from "./support.ts";

// The shipped configuration (cdk.json), bundled for real with esbuild, built once for the file.
const synth = synthesize();
const { config, data, regions, dataTemplate, regionTemplates } = synth;
const regionEntries = [...regionTemplates];

describe("app wiring", () => {
  it("has one data stack in the primary region and one region stack per configured region", () => {
    expect(config.regions).toEqual(["us-east-1", "us-west-2"]);
    expect(data.stackName).toBe("steadfast-data");
    expect(data.region).toBe(config.primaryRegion);
    expect(regions.map((stack) => [stack.stackName, stack.region])).toEqual([
      ["steadfast-us-east-1", "us-east-1"],
      ["steadfast-us-west-2", "us-west-2"],
    ]);
    for (const stack of regions) expect(stack.dependencies).toContain(data);
  });

  it("keeps state in the data stack only", () => {
    for (const [region, template] of regionEntries) {
      const stateful = resources(template).filter(([, r]) =>
        ["AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"].includes(
          r.Type,
        ),
      );
      expect(stateful, region).toEqual([]);
    }
  });
});

describe("data stack", () => {
  it("replicates both global tables to every region with PITR, deletion protection and Retain", () => {
    expectGlobalTables(dataTemplate, config.regions);
  });

  it("gives the ledger a TTL, the bySesMessageId index and the byRecipient index erasure uses", () => {
    const [, ledger] = single(
      resources(dataTemplate, "AWS::DynamoDB::GlobalTable").filter(
        ([, t]) => props<{ TableName: string }>(t).TableName === "steadfast-ledger",
      ),
      "ledger table",
    );
    const { TimeToLiveSpecification, GlobalSecondaryIndexes } = props<{
      TimeToLiveSpecification: unknown;
      GlobalSecondaryIndexes: unknown;
    }>(ledger);
    expect(TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
    expect(GlobalSecondaryIndexes).toEqual([
      {
        IndexName: "bySesMessageId",
        KeySchema: [{ AttributeName: "sesMessageId", KeyType: "HASH" }],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: "byRecipient",
        KeySchema: [{ AttributeName: "email", KeyType: "HASH" }],
        Projection: { ProjectionType: "KEYS_ONLY" },
      },
    ]);
  });

  it("replicates the admin API key secret to every other region", () => {
    expectReplicatedSecret(dataTemplate, config.primaryRegion, config.regions);
  });
});

describe.each(regionEntries)("region stack %s", (region, template) => {
  const topicId = single(resources(template, "AWS::SNS::Topic"), "alarm topic")[0];
  const alarms = resources(template, "AWS::CloudWatch::Alarm").map(([id, alarm]) => ({
    id,
    ...props<{
      MetricName: string;
      Namespace: string;
      Dimensions: { Name: string; Value: unknown }[];
      AlarmActions?: unknown[];
      OKActions?: unknown[];
      Threshold: number;
    }>(alarm),
  }));
  const queues = resources(template, "AWS::SQS::Queue");
  const dlqIds = new Set(
    queues.flatMap(([, q]) => {
      const target = refTarget(
        props<{ RedrivePolicy?: { deadLetterTargetArn: unknown } }>(q).RedrivePolicy?.deadLetterTargetArn,
      );
      return target === undefined ? [] : [target];
    }),
  );

  // Queues a function's failed asynchronous invocations go to (the scheduler's failed ticks).
  const failureQueueIds = new Set(
    resources(template, "AWS::Lambda::EventInvokeConfig").flatMap(([, config]) => {
      const target = refTarget(
        props<{ DestinationConfig?: { OnFailure?: { Destination: unknown } } }>(config).DestinationConfig
          ?.OnFailure?.Destination,
      );
      return target === undefined ? [] : [target];
    }),
  );

  it("redrives every work queue to a dead-letter queue of the same stack", () => {
    const workQueues = queues.filter(([id]) => !dlqIds.has(id) && !failureQueueIds.has(id));
    // fan-out, send, import (CSV chunks and list erasures), SES feedback, and webhook deliveries
    expect(workQueues).toHaveLength(5);
    expect(dlqIds.size).toBe(5);
    for (const [id, queue] of workQueues) {
      const { RedrivePolicy } = props<{
        RedrivePolicy?: { deadLetterTargetArn: unknown; maxReceiveCount: number };
      }>(queue);
      const target = refTarget(RedrivePolicy?.deadLetterTargetArn);
      expect(target, id).toBeDefined();
      expect(resource(template, target ?? "").Type, id).toBe("AWS::SQS::Queue");
      expect(RedrivePolicy?.maxReceiveCount, id).toBeGreaterThan(0);
    }
  });

  it("alarms on any message in every DLQ and on-failure queue, notifying the alarm topic", () => {
    expect(failureQueueIds.size).toBe(1);
    for (const dlqId of [...dlqIds, ...failureQueueIds]) {
      const alarm = alarms.find(
        (a) =>
          a.Namespace === "AWS/SQS" &&
          a.MetricName === "ApproximateNumberOfMessagesVisible" &&
          a.Dimensions.some((d) => d.Name === "QueueName" && refTarget(d.Value) === dlqId),
      );
      expect(alarm, dlqId).toBeDefined();
      expect(alarm?.Threshold).toBe(0);
      expect(alarm?.AlarmActions?.map(refTarget)).toContain(topicId);
    }
  });

  it("sizes each mapped queue's visibility timeout to >= 6 × the function timeout, with partial batch failures", () => {
    const mappings = resources(template, "AWS::Lambda::EventSourceMapping");
    expect(mappings).toHaveLength(5);
    for (const [id, mapping] of mappings) {
      const { EventSourceArn, FunctionName, FunctionResponseTypes } = props<{
        EventSourceArn: unknown;
        FunctionName: unknown;
        FunctionResponseTypes: string[];
      }>(mapping);
      expect(FunctionResponseTypes, id).toEqual(["ReportBatchItemFailures"]);
      const queue = resource(template, refTarget(EventSourceArn) ?? "");
      const fn = resource(template, invokedFunction(template, FunctionName) ?? "");
      const { VisibilityTimeout } = props<{ VisibilityTimeout: number }>(queue);
      const { Timeout } = props<{ Timeout: number }>(fn);
      expect(Timeout, id).toBeGreaterThan(0);
      expect(VisibilityTimeout, id).toBeGreaterThanOrEqual(6 * Timeout);
    }
  });

  it("maps fan-out and send queues with the configured batching and concurrency", () => {
    const byFunction = new Map(
      resources(template, "AWS::Lambda::EventSourceMapping").map(([, m]) => {
        const p = props<{
          FunctionName: unknown;
          BatchSize: number;
          ScalingConfig: { MaximumConcurrency: number };
        }>(m);
        return [invokedFunction(template, p.FunctionName), p] as const;
      }),
    );
    const fanout = byFunction.get(serviceFunction(template, "fanout")[0]);
    const jobs = byFunction.get(serviceFunction(template, "audience-jobs")[0]);
    expect([jobs?.BatchSize, jobs?.ScalingConfig.MaximumConcurrency]).toEqual([1, 2]);
    const sender = byFunction.get(serviceFunction(template, "sender")[0]);
    expect([fanout?.BatchSize, fanout?.ScalingConfig.MaximumConcurrency]).toEqual([1, 4]);
    expect([sender?.BatchSize, sender?.ScalingConfig.MaximumConcurrency]).toEqual([
      4,
      config.senderConcurrency,
    ]);
    // The sender sizes its in-flight sends by the batch size it is told, which must be its mapping's.
    const senderEnv = environment(serviceFunction(template, "sender")[1]);
    expect(senderEnv[ENV.sendBatchSize]).toBe(String(sender?.BatchSize));
  });

  it("has an Errors alarm per function and an API 5xx alarm", () => {
    const functions = serviceFunctions(template);
    expect([...functions.keys()].sort()).toEqual([
      "api",
      "audience-jobs",
      "fanout",
      "feedback",
      "scheduler",
      "sender",
      "webhooks",
    ]);
    for (const [name, [fnId]] of functions) {
      const errors = alarms.filter(
        (a) =>
          a.Namespace === "AWS/Lambda" &&
          a.MetricName === "Errors" &&
          a.Dimensions.some((d) => d.Name === "FunctionName" && refTarget(d.Value) === fnId),
      );
      expect(errors, name).toHaveLength(1);
    }
    const apiId = single(resources(template, "AWS::ApiGatewayV2::Api"), "HTTP API")[0];
    const api5xx = alarms.filter((a) => a.Namespace === "AWS/ApiGateway" && a.MetricName === "5xx");
    expect(api5xx).toHaveLength(1);
    expect(api5xx[0]?.Dimensions.map((d) => [d.Name, refTarget(d.Value) ?? d.Value])).toEqual([
      ["ApiId", apiId],
      ["Stage", "$default"],
    ]);
    expect(api5xx[0]?.Threshold).toBeGreaterThanOrEqual(5);
  });

  it("feeds the audience-jobs queue from the API and the scheduler, and only the audience-jobs function consumes it", () => {
    const [jobsId, jobsFn] = serviceFunction(template, "audience-jobs");
    const audienceJobsQueueRef = environment(jobsFn).AUDIENCE_JOBS_QUEUE_URL;
    const audienceJobsQueueId = refTarget(audienceJobsQueueRef);
    expect(audienceJobsQueueId).toBeDefined();
    for (const name of ["api", "scheduler"]) {
      const [, fn] = serviceFunction(template, name);
      expect(refTarget(environment(fn).AUDIENCE_JOBS_QUEUE_URL), name).toBe(audienceJobsQueueId);
    }
    const consumers = resources(template, "AWS::Lambda::EventSourceMapping")
      .map(([, m]) => props<{ EventSourceArn: unknown; FunctionName: unknown }>(m))
      .filter((m) => refTarget(m.EventSourceArn) === audienceJobsQueueId)
      .map((m) => invokedFunction(template, m.FunctionName));
    expect(consumers).toEqual([jobsId]);
  });

  it("sends every alarm and its recovery to the alarm topic, itself or through the composite it belongs to", () => {
    const composites = resources(template, "AWS::CloudWatch::CompositeAlarm").map(([id, c]) => ({
      id,
      ...props<{ AlarmRule: unknown; AlarmActions?: unknown[]; OKActions?: unknown[] }>(c),
    }));
    expect(composites.length).toBeGreaterThanOrEqual(4);
    for (const composite of composites) {
      expect(composite.AlarmActions?.map(refTarget), composite.id).toEqual([topicId]);
      expect(composite.OKActions?.map(refTarget), composite.id).toEqual([topicId]);
    }
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    for (const alarm of alarms) {
      if (alarm.AlarmActions === undefined) {
        // A member: some composite's rule names it, and pages for it (once per incident).
        const owners = composites.filter((c) => JSON.stringify(c.AlarmRule).includes(`"${alarm.id}"`));
        expect(owners.length, `${alarm.id} notifies nobody`).toBeGreaterThan(0);
        continue;
      }
      expect(alarm.AlarmActions.map(refTarget), alarm.id).toEqual([topicId]);
      expect(alarm.OKActions?.map(refTarget), alarm.id).toEqual([topicId]);
    }
  });

  it("lets the sender put the recipients it retries back on its own queue", () => {
    const [senderId, sender] = serviceFunction(template, "sender");
    const mapping = single(
      resources(template, "AWS::Lambda::EventSourceMapping").filter(
        ([, m]) => invokedFunction(template, props<{ FunctionName: unknown }>(m).FunctionName) === senderId,
      ),
      "sender event source",
    )[1];
    const sendQueueId = refTarget(props<{ EventSourceArn: unknown }>(mapping).EventSourceArn);
    expect(refTarget(environment(sender).SEND_QUEUE_URL)).toBe(sendQueueId);
    const roleId = refTarget(props<{ Role: unknown }>(sender).Role);
    const senderPolicies = resources(template, "AWS::IAM::Policy").filter(([, p]) =>
      props<{ Roles: unknown[] }>(p).Roles.some((r) => refTarget(r) === roleId),
    );
    const sendGrants = senderPolicies
      .flatMap(
        ([, p]) =>
          props<{ PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }>(p).PolicyDocument
            .Statement,
      )
      .filter((s) => [s.Action].flat().includes("sqs:SendMessage"))
      .flatMap((s) => [s.Resource].flat().map(refTarget));
    expect(sendGrants).toContain(sendQueueId);
  });

  it("grants SQS permissions on every queue a function is given the URL of", () => {
    expectQueueUrlsGranted(template);
  });

  it("scopes SES permissions to the identity and configuration set of every region", () => {
    expectScopedSesPermissions(template, config.regions);
  });

  it("lists this region first in the sender's SES_REGIONS", () => {
    expectSesRegions(template, region, config.regions);
  });

  it("runs every function on arm64 Node.js 24 with tracing and an ESM bundle", () => {
    for (const [name, [, fn]] of serviceFunctions(template)) {
      const p = props<{
        Runtime: string;
        Architectures: string[];
        TracingConfig: { Mode: string };
        Handler: string;
      }>(fn);
      expect([p.Runtime, p.Architectures, p.TracingConfig.Mode, p.Handler], name).toEqual([
        "nodejs24.x",
        ["arm64"],
        "Active",
        "index.handler",
      ]);
      const env = environment(fn);
      expect(env.HOME_REGION, name).toBe(region);
      expect(env.STEADFAST_FUNCTION, name).toBe(name);
      expect(env.POWERTOOLS_SERVICE_NAME, name).toBe(`steadfast-${name}`);
    }
  });

  it("invokes every function through its live alias, shifted by a CodeDeploy canary that its alarms roll back", () => {
    const aliases = new Map(
      resources(template, "AWS::Lambda::Alias").map(([id, alias]) => [
        id,
        { fn: refTarget(props<{ FunctionName: unknown }>(alias).FunctionName), alias },
      ]),
    );
    const groups = new Map(resources(template, "AWS::CodeDeploy::DeploymentGroup"));
    const alarmsOf = (fnId: string): (string | undefined)[] => {
      const alias = [...aliases.values()].find((a) => a.fn === fnId)?.alias;
      if (alias === undefined) throw new Error(`no alias of ${fnId}`);
      expect(props<{ Name: string }>(alias).Name, fnId).toBe("live");
      const update = (
        alias?.UpdatePolicy as { CodeDeployLambdaAliasUpdate?: { DeploymentGroupName: unknown } }
      )?.CodeDeployLambdaAliasUpdate;
      const group = groups.get(refTarget(update?.DeploymentGroupName) ?? "");
      const p = props<{
        DeploymentConfigName: string;
        AutoRollbackConfiguration: { Enabled: boolean; Events: string[] };
        AlarmConfiguration: { Enabled: boolean; Alarms: { Name: unknown }[] };
      }>(group ?? alias);
      expect(p.DeploymentConfigName, fnId).toBe("CodeDeployDefault.LambdaCanary10Percent5Minutes");
      expect(p.AutoRollbackConfiguration.Enabled).toBe(true);
      expect(p.AutoRollbackConfiguration.Events).toContain("DEPLOYMENT_STOP_ON_ALARM");
      expect(p.AlarmConfiguration.Enabled).toBe(true);
      return p.AlarmConfiguration.Alarms.map((a) => refTarget(a.Name));
    };
    const errorsAlarmOf = (fnId: string) =>
      resources(template, "AWS::CloudWatch::Alarm").find(([, a]) =>
        props<{ Dimensions?: { Name: string; Value: unknown }[] }>(a).Dimensions?.some(
          (d) => d.Name === "FunctionName" && refTarget(d.Value) === fnId,
        ),
      )?.[0];
    for (const [name, [fnId]] of serviceFunctions(template)) {
      expect(alarmsOf(fnId), name).toContain(errorsAlarmOf(fnId));
    }
    expect(alarmsOf(serviceFunction(template, "api")[0])).toHaveLength(2); // + the API's 5xx
    expect(alarmsOf(serviceFunction(template, "sender")[0])).toHaveLength(2); // + the send failure rate

    // Every trigger names an alias, never the function (which would run $LATEST, outside the canary).
    const triggers = [
      ...resources(template, "AWS::Lambda::EventSourceMapping").map(
        ([, m]) => props<{ FunctionName: unknown }>(m).FunctionName,
      ),
      ...resources(template, "AWS::ApiGatewayV2::Integration").map(
        ([, i]) => props<{ IntegrationUri: unknown }>(i).IntegrationUri,
      ),
      ...resources(template, "AWS::Events::Rule").flatMap(([, r]) =>
        (props<{ Targets?: { Arn: unknown }[] }>(r).Targets ?? []).map((t) => t.Arn),
      ),
    ].filter((ref) => invokedFunction(template, ref) !== undefined);
    expect(triggers.length).toBeGreaterThanOrEqual(6);
    for (const ref of triggers)
      expect(aliases.has(invokedResource(ref) ?? ""), JSON.stringify(ref)).toBe(true);
  });

  it("throttles the $default route from config and routes everything to the api function", () => {
    const [, stage] = single(resources(template, "AWS::ApiGatewayV2::Stage"), "stage");
    expect(props<{ StageName: string }>(stage).StageName).toBe("$default");
    expect(props<{ DefaultRouteSettings: unknown }>(stage).DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: config.apiThrottle.rateLimit,
      ThrottlingBurstLimit: config.apiThrottle.burstLimit,
    });
    const routeKeys = resources(template, "AWS::ApiGatewayV2::Route").map(
      ([, route]) => props<{ RouteKey: string }>(route).RouteKey,
    );
    expect(routeKeys).toContain("$default");
    const [, integration] = single(resources(template, "AWS::ApiGatewayV2::Integration"), "integration");
    const { PayloadFormatVersion, IntegrationUri } = props<{
      PayloadFormatVersion: string;
      IntegrationUri: unknown;
    }>(integration);
    expect(PayloadFormatVersion).toBe("2.0");
    expect(invokedFunction(template, IntegrationUri)).toBe(serviceFunction(template, "api")[0]);
  });
});

describe("region stacks", () => {
  it("all have the same shape", () => {
    expectSameShape(regionTemplates);
  });
});
