import { fileURLToPath } from "node:url";
import { App, type CfnElement, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { describe, expect, it } from "vitest";
import { AlarmTopic } from "../../lib/constructs/alarm-topic.ts";
import { IntakeApi } from "../../lib/constructs/intake-api.ts";
import { QueueWithDlq } from "../../lib/constructs/queue-with-dlq.ts";
import { Scheduler } from "../../lib/constructs/scheduler.ts";
import { Sender } from "../../lib/constructs/sender.ts";
import { SendingIdentity } from "../../lib/constructs/sending-identity.ts";
import { environment, props, refTarget, resources, serviceFunction, single } from "./support.ts";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A stack (functions not bundled) with the tables, secrets and queues the region constructs need. */
function setup() {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { region: "us-east-1" } });
  const queue = (id: string) => new QueueWithDlq(stack, id, { consumerTimeout: Duration.minutes(5) });
  return {
    app,
    stack,
    code: { projectRoot: PROJECT_ROOT },
    tables: {
      audienceTable: dynamodb.TableV2.fromTableName(stack, "Audience", "audience"),
      ledgerTable: dynamodb.TableV2.fromTableName(stack, "Ledger", "ledger"),
    },
    unsubscribeKey: Secret.fromSecretNameV2(stack, "UnsubscribeKey", "app/unsubscribe-key"),
    adminApiKey: Secret.fromSecretNameV2(stack, "AdminApiKey", "app/admin-api-key"),
    queues: { fanoutQueue: queue("F"), sendQueue: queue("S"), audienceJobsQueue: queue("I") },
  };
}

describe("SendingIdentity", () => {
  it("lists this stack's region first among the regions it grants sending in", () => {
    const { stack } = setup();
    const identity = new SendingIdentity(stack, "Ses", {
      domain: "example.com",
      configurationSetName: "app",
      sendRegions: ["eu-west-1", "us-east-1"],
    });
    expect(identity.sendRegions).toEqual(["us-east-1", "eu-west-1"]);
  });

  it("refuses sendRegions without this stack's region", () => {
    const { stack } = setup();
    expect(
      () =>
        new SendingIdentity(stack, "Ses", {
          domain: "example.com",
          configurationSetName: "app",
          sendRegions: ["eu-west-1"],
        }),
    ).toThrow("SendingIdentity Test/Ses: sendRegions [eu-west-1] must include this stack's region us-east-1");
  });
});

describe("Sender", () => {
  const sender = () => {
    const { app, stack, code, tables, unsubscribeKey } = setup();
    const identity = new SendingIdentity(stack, "Ses", {
      domain: "example.com",
      configurationSetName: "app",
    });
    const built = new Sender(stack, "Send", {
      ...code,
      ...tables,
      identity,
      unsubscribeKey,
      ledgerRetentionDays: 90,
      sendMode: "failover",
      maxSendRate: 14,
      alarmPrefix: "app-us-east-1",
    });
    return { app, stack, sender: built };
  };

  it("fails synthesis until it knows the public API URL of its unsubscribe links", () => {
    const { app } = sender();
    expect(() => app.synth()).toThrow(/Sender Test\/Send: call setPublicApiUrl\(\)/);
  });

  it("publishes the URL once, and refuses a second one", () => {
    const { stack, sender: built } = sender();
    built.setPublicApiUrl("https://api.example.com/");
    expect(environment(serviceFunction(Template.fromStack(stack), "sender")[1]).PUBLIC_API_URL).toBe(
      "https://api.example.com/",
    );
    expect(() => built.setPublicApiUrl("https://other.example.com/")).toThrow(
      "Sender Test/Send: the public API URL is set already",
    );
  });

  it("alarms when SES pauses or suspends the account's sending, and lists the alarm for the topic", () => {
    const { stack, sender: built } = sender();
    built.setPublicApiUrl("https://api.example.com/");
    Template.fromStack(stack).hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmName: "app-us-east-1-ses-enforcement",
      MetricName: "SesEnforcement",
      Namespace: "Steadfast",
      Dimensions: [{ Name: "service", Value: "steadfast-sender" }],
      Threshold: 0,
    });
    expect(built.alarms.map((a) => a.node.id)).toContain("SesEnforcementAlarm");
  });

  it("aligns timeout, claim lease and visibility: a crashed batch is claimable again within 121 s", () => {
    const { stack, sender: built } = sender();
    built.setPublicApiUrl("https://api.example.com/");
    const template = Template.fromStack(stack);
    const [, fn] = serviceFunction(template, "sender");
    const timeout = Number(props<{ Timeout: number }>(fn).Timeout);
    const lease = Number(environment(fn).SEND_LEASE_SECONDS);
    const visibilities = resources(template, "AWS::SQS::Queue")
      .filter(([id]) => id.startsWith("Send"))
      .map(([, q]) => props<{ VisibilityTimeout?: number }>(q).VisibilityTimeout)
      .filter((v) => v !== undefined);
    expect(visibilities).toHaveLength(1);
    const visibility = Number(visibilities[0]);
    // A live sender never outlasts its claims; a dead one's claims expire before its batch returns.
    expect(lease).toBeGreaterThan(timeout);
    expect(visibility).toBeGreaterThan(lease);
    expect(visibility).toBeLessThanOrEqual(121);
  });
});

describe("Scheduler", () => {
  it("never retries a tick, records a failed one in a queue, and alarms on it", () => {
    const { stack, code, tables, queues } = setup();
    const scheduler = new Scheduler(stack, "Scheduler", {
      ...code,
      ...tables,
      ...queues,
      appName: "app",
      fanoutLease: Duration.seconds(60),
    });
    const template = Template.fromStack(stack);
    const [, config] = single(resources(template, "AWS::Lambda::EventInvokeConfig"), "async config");
    const { MaximumRetryAttempts, DestinationConfig, FunctionName } = props<{
      MaximumRetryAttempts: number;
      DestinationConfig: { OnFailure: { Destination: unknown } };
      FunctionName: unknown;
    }>(config);
    expect(MaximumRetryAttempts).toBe(0);
    expect(refTarget(FunctionName)).toBe(
      stack.getLogicalId(scheduler.function.function.node.defaultChild as CfnElement),
    );
    const failedTicks = stack.getLogicalId(scheduler.failedTicks.node.defaultChild as CfnElement);
    expect(refTarget(DestinationConfig.OnFailure.Destination)).toBe(failedTicks);
    template.hasResourceProperties("AWS::Events::Rule", {
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    const alarm = resources(template, "AWS::CloudWatch::Alarm")
      .map(([, a]) => props<{ MetricName: string; Threshold: number; Dimensions: { Value: unknown }[] }>(a))
      .find((a) => a.Dimensions.some((d) => refTarget(d.Value) === failedTicks));
    expect(alarm).toMatchObject({ MetricName: "ApproximateNumberOfMessagesVisible", Threshold: 0 });
    // In the construct's alarm list: the region stack hands that list to the alarm topic.
    expect(scheduler.alarms).toHaveLength(2);
  });

  it("refuses a rate its runs could overlap at", () => {
    const { stack, code, tables, queues } = setup();
    expect(
      () =>
        new Scheduler(stack, "Scheduler", {
          ...code,
          ...tables,
          ...queues,
          appName: "app",
          fanoutLease: Duration.seconds(60),
          rate: Duration.seconds(30),
        }),
    ).toThrow(
      "Scheduler Test/Scheduler: rate (30 s) must be longer than the function timeout (50 s), so runs never overlap",
    );
  });
});

describe("IntakeApi", () => {
  const api = (timeout?: Duration) => {
    const { stack, code, tables, queues, adminApiKey, unsubscribeKey } = setup();
    const built = new IntakeApi(stack, "Api", {
      ...code,
      ...tables,
      ...queues,
      adminApiKey,
      unsubscribeKey,
      appName: "app",
      senderDomain: "example.com",
      defaultFromAddress: "news@example.com",
      throttle: { rateLimit: 10, burstLimit: 20 },
      timeout,
    });
    return { stack, api: built };
  };

  it("refuses a function timeout the HTTP API would not wait for", () => {
    expect(() => api(Duration.seconds(31))).toThrow(
      "IntakeApi Test/Api: timeout (31 s) exceeds the 30 s an HTTP API waits for its integration",
    );
  });

  it("ends a request by the function's own timeout, a second before the HTTP API would give up", () => {
    const { stack } = api();
    const template = Template.fromStack(stack);
    const functions = resources(template, "AWS::Lambda::Function").filter(([id]) =>
      id.startsWith("ApiFunction"),
    );
    const [, fn] = single(functions, "api function");
    expect(props<{ Timeout: number }>(fn).Timeout).toBe(29);
  });

  it("exposes its alarms: the function's errors and the stage's 5xx", () => {
    const { api: built } = api();
    expect(built.alarms).toEqual([built.function.errorsAlarm, built.serverErrorAlarm]);
  });

  it("gives the public routes their own routes and throttles; $default serves the API clients", () => {
    const { stack } = api();
    const template = Template.fromStack(stack);
    const keys = resources(template, "AWS::ApiGatewayV2::Route").map(
      ([, route]) => props<{ RouteKey: string }>(route).RouteKey,
    );
    expect(keys.sort()).toEqual([
      "$default",
      "GET /c/{token}",
      "GET /health",
      "GET /p/{token}",
      "GET /u/{token}",
      "POST /c/{token}",
      "POST /p/{token}",
      "POST /u/{token}",
    ]);
    const [, stage] = single(resources(template, "AWS::ApiGatewayV2::Stage"), "stage");
    const { DefaultRouteSettings, RouteSettings } = props<{
      DefaultRouteSettings: unknown;
      RouteSettings: Record<string, unknown>;
    }>(stage);
    expect(DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
    expect(RouteSettings).toEqual({
      "GET /u/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "POST /u/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "GET /p/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "POST /p/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "GET /c/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "POST /c/{token}": { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      "GET /health": { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
    // Every route reaches the one function.
    expect(resources(template, "AWS::ApiGatewayV2::Integration")).toHaveLength(1);
  });

  it("sets the per-key rate limit of the function", () => {
    const { stack } = api();
    const env = environment(serviceFunction(Template.fromStack(stack), "api")[1]);
    expect([env.API_KEY_RATE_LIMIT, env.API_KEY_BURST_LIMIT]).toEqual(["20", "40"]);
  });

  it("logs the route key, never the raw path (it holds addresses and unsubscribe tokens)", () => {
    const { stack } = api();
    const stages = resources(Template.fromStack(stack), "AWS::ApiGatewayV2::Stage");
    expect(stages).toHaveLength(1);
    const [, stage] = stages[0]!;
    const format = props<{ AccessLogSettings: { Format: string } }>(stage).AccessLogSettings.Format;
    expect(JSON.parse(format)).toMatchObject({ routeKey: "$context.routeKey" });
    expect(format).not.toMatch(/\$context\.(path|resourcePath)|rawPath/);
  });
});

describe("AlarmTopic", () => {
  it("sends each alarm's ALARM and OK transitions to the topic, and refuses an alarm twice", () => {
    const { stack, queues } = setup();
    const topic = new AlarmTopic(stack, "Alarms", { displayName: "app alarms" });
    const alarms = Object.values(queues).flatMap((queue) => queue.alarms);
    topic.notify(alarms);
    expect(topic.alarms).toEqual(alarms);
    const template = Template.fromStack(stack);
    const [topicId] = resources(template, "AWS::SNS::Topic")[0] ?? [""];
    for (const [id, alarm] of resources(template, "AWS::CloudWatch::Alarm")) {
      const { AlarmActions, OKActions } = props<{ AlarmActions: unknown[]; OKActions: unknown[] }>(alarm);
      expect([AlarmActions.map(refTarget), OKActions.map(refTarget)], id).toEqual([[topicId], [topicId]]);
    }
    expect(() => topic.notify([queues.fanoutQueue.deadLetterAlarm])).toThrow(
      "AlarmTopic Test/Alarms: alarm Test/F/DeadLetterAlarm already notifies this topic",
    );
  });
});
