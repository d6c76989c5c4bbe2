import { readFileSync } from "node:fs";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { RUNBOOK, RUNBOOK_PATH } from "../../lib/runbook.ts";
import { props, refTarget, resources, synthesize } from "./support.ts";

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: { Service?: string };
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** The topics the alarms of a template notify (alarm and OK actions), by logical id. */
function alarmTopics(template: Template): Set<string> {
  const topics = new Set<string>();
  for (const type of ["AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"]) {
    for (const [, alarm] of resources(template, type)) {
      const { AlarmActions = [], OKActions = [] } = props<{
        AlarmActions?: unknown[];
        OKActions?: unknown[];
      }>(alarm);
      for (const action of [...AlarmActions, ...OKActions]) {
        const target = refTarget(action);
        if (target) topics.add(target);
      }
    }
  }
  return topics;
}

/** The statements of every topic policy that covers `topic`. */
function topicStatements(template: Template, topic: string): Statement[] {
  return resources(template, "AWS::SNS::TopicPolicy")
    .filter(([, policy]) => props<{ Topics: unknown[] }>(policy).Topics.some((t) => refTarget(t) === topic))
    .flatMap(
      ([, policy]) => props<{ PolicyDocument: { Statement: Statement[] } }>(policy).PolicyDocument.Statement,
    );
}

const shipped = synthesize({}, { bundle: false });
const withEmail = synthesize({ alarmEmail: "ops@example.com" }, { bundle: false });
const apiDomain = { name: "api.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ", zoneName: "example.com" };
const healthWatch = synthesize({ apiDomain }, { bundle: false }).healthWatch;
/** Every template with alarms: the region stacks, and the us-east-1 health-check stack with a domain. */
const alarmTemplates: [string, Template][] = [
  ...shipped.regionTemplates,
  ...(healthWatch ? [["steadfast-health", Template.fromStack(healthWatch)] as [string, Template]] : []),
];

describe("alarm notifications", () => {
  it("covers the health-check stack", () =>
    expect(alarmTemplates.map(([name]) => name)).toContain("steadfast-health"));

  it.each(alarmTemplates)("%s: every topic an alarm notifies lets CloudWatch publish", (_, template) => {
    const topics = alarmTopics(template);
    expect(topics.size).toBeGreaterThan(0);
    for (const topic of topics) {
      const statements = topicStatements(template, topic);
      const allow = statements.find(
        (s) =>
          s.Effect === "Allow" &&
          s.Principal?.Service === "cloudwatch.amazonaws.com" &&
          [s.Action].flat().includes("sns:Publish"),
      );
      expect(allow, `${topic}: no Allow for cloudwatch.amazonaws.com`).toBeDefined();
      expect(Object.keys(allow?.Condition?.StringEquals ?? {})).toEqual(["aws:SourceAccount"]);
      expect(JSON.stringify(allow?.Condition?.ArnLike?.["aws:SourceArn"])).toMatch(/:cloudwatch:.*:alarm:\*/);
      // The TLS-only Deny stays.
      expect(
        statements.some(
          (s) => s.Effect === "Deny" && JSON.stringify(s.Condition).includes("aws:SecureTransport"),
        ),
      ).toBe(true);
    }
  });

  it("names each region's topic in a stack output, to subscribe to", () => {
    for (const [region, template] of shipped.regionTemplates) {
      const outputs = (template.toJSON() as { Outputs: Record<string, { Value: unknown }> }).Outputs;
      const topics = [...alarmTopics(template)];
      expect(refTarget(outputs.AlarmTopicArn?.Value), region).toBe(topics[0]);
    }
  });

  it("warns at synth when no address is subscribed, in every region, and not when one is", () => {
    for (const stack of shipped.regions)
      Annotations.fromStack(stack).hasWarning("*", Match.stringLikeRegexp("No alarmEmail configured"));
    for (const stack of withEmail.regions)
      Annotations.fromStack(stack).hasNoWarning("*", Match.stringLikeRegexp("No alarmEmail configured"));
  });
});

/** GitHub's anchor of a Markdown heading. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");

describe("the runbook", () => {
  const anchors = new Set(
    readFileSync(RUNBOOK_PATH, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("## "))
      .map((line) => slug(line.slice(3))),
  );

  it("has a section for every anchor an alarm may link to", () => {
    for (const section of Object.values(RUNBOOK)) expect(anchors, section).toContain(section);
  });

  it.each(alarmTemplates)("%s: every alarm links to its section of the runbook", (name, template) => {
    const all = [
      ...resources(template, "AWS::CloudWatch::Alarm"),
      ...resources(template, "AWS::CloudWatch::CompositeAlarm"),
    ];
    expect(all.length).toBeGreaterThanOrEqual(name === "steadfast-health" ? 2 : 20);
    for (const [id, alarm] of all) {
      const description = JSON.stringify(props<{ AlarmDescription?: unknown }>(alarm).AlarmDescription ?? "");
      const link = /Runbook: docs\/runbook\.md#([a-z0-9-]+)/.exec(description);
      expect(link, `${id}: ${description}`).not.toBeNull();
      expect(anchors, id).toContain(link?.[1]);
    }
  });
});

describe("monitoring", () => {
  it.each([...shipped.regionTemplates])(
    "%s: a dashboard of what users see and what the pipeline does",
    (region, template) => {
      const [[, dashboard] = ["", { Type: "none" }]] = resources(template, "AWS::CloudWatch::Dashboard");
      const body = JSON.stringify(props<{ DashboardBody: unknown }>(dashboard).DashboardBody);
      expect(JSON.stringify(props(dashboard))).toContain(`steadfast-${region}`);
      for (const title of [
        "Sends per minute",
        "SES: throttles, failovers, breaker",
        "Queue depth",
        "Oldest message (s) and DLQ depth",
        "API requests, 4xx, 5xx",
        "API latency p99 (ms)",
        "Lambda errors and throttles",
        "Lambda duration p99 (ms)",
        "DynamoDB throttles and system errors",
        "DynamoDB ReplicationLatency (ms)",
        "SES bounce and complaint rates",
        "Campaign progress (feedback)",
        "Uptime (canary success %)",
      ])
        expect(body, title).toContain(title);
      for (const metric of ["EmailsSent", "FailoverUsed", "BreakerOpened", "Throttled", "ReplicationLatency"])
        expect(body, metric).toContain(metric);
    },
  );

  it.each([...shipped.regionTemplates])("%s: a canary calls the region's API every minute", (_, template) => {
    const [[, canary] = ["", { Type: "none" }]] = resources(template, "AWS::Synthetics::Canary");
    const { Schedule, RunConfig, Code } = props<{
      Schedule: { Expression: string };
      RunConfig: { EnvironmentVariables: Record<string, unknown> };
      Code: { Script: string; Handler: string };
    }>(canary);
    expect(Schedule.Expression).toBe("rate(1 minute)");
    expect(JSON.stringify(RunConfig.EnvironmentVariables.STEADFAST_UPTIME_URLS)).toMatch(/execute-api/);
    expect(Code.Script).toContain("/health");
  });

  it.each([...shipped.regionTemplates])(
    "%s: alarms on latency, errors, throttles, replication and the pipeline's own metrics",
    (region, template) => {
      const names = resources(template, "AWS::CloudWatch::Alarm").map(
        ([, a]) => props<{ AlarmName?: string }>(a).AlarmName,
      );
      for (const name of [
        "uptime",
        "api-latency-p99",
        "api-4xx-rate",
        "lambda-throttles",
        "scheduler-heartbeat",
        "dynamodb-throttles",
        "dynamodb-system-errors",
        "replication-latency",
        "send-failure-rate",
        "breaker-opened",
        "failover-used",
        "possible-duplicate",
        "ses-bounce-rate-early",
        "ses-complaint-rate-early",
      ])
        expect(names, name).toContain(`steadfast-${region}-${name}`);
    },
  );
});
