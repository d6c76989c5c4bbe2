import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
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

describe("alarm notifications", () => {
  it.each([...shipped.regionTemplates])(
    "%s: every topic an alarm notifies lets CloudWatch publish",
    (_, template) => {
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
        expect(JSON.stringify(allow?.Condition?.ArnLike?.["aws:SourceArn"])).toMatch(
          /:cloudwatch:.*:alarm:\*/,
        );
        // The TLS-only Deny stays.
        expect(
          statements.some(
            (s) => s.Effect === "Deny" && JSON.stringify(s.Condition).includes("aws:SecureTransport"),
          ),
        ).toBe(true);
      }
    },
  );

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
