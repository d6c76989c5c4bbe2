import { describe, expect, it } from "vitest";
import {
  environment,
  invokedFunction,
  policyStatements,
  props,
  refTarget,
  render,
  resource,
  resources,
  serviceFunction,
  single,
  synthesize,
} from "./support.ts";

// Topology only: no bundling needed.
const synth = synthesize({}, { bundle: false });

describe.each([...synth.regionTemplates])("deliverability in %s", (region, template) => {
  const [configSetId] = single(resources(template, "AWS::SES::ConfigurationSet"), "configuration set");
  const [feedbackId, feedbackFn] = serviceFunction(template, "feedback");
  const mapping = single(
    resources(template, "AWS::Lambda::EventSourceMapping").filter(
      ([, m]) => invokedFunction(template, props<{ FunctionName: unknown }>(m).FunctionName) === feedbackId,
    ),
    "feedback event source",
  )[1];
  const feedbackQueueId = refTarget(props<{ EventSourceArn: unknown }>(mapping).EventSourceArn) ?? "";
  const dlqId =
    refTarget(
      props<{ RedrivePolicy?: { deadLetterTargetArn: unknown } }>(resource(template, feedbackQueueId))
        .RedrivePolicy?.deadLetterTargetArn,
    ) ?? "";

  it("publishes every sending event of the configuration set to the default EventBridge bus", () => {
    const [, destination] = single(
      resources(template, "AWS::SES::ConfigurationSetEventDestination"),
      "event destination",
    );
    const { ConfigurationSetName, EventDestination } = props<{
      ConfigurationSetName: unknown;
      EventDestination: {
        Enabled: boolean;
        MatchingEventTypes: string[];
        EventBridgeDestination: { EventBusArn: unknown };
      };
    }>(destination);
    expect(refTarget(ConfigurationSetName)).toBe(configSetId);
    expect(EventDestination.Enabled).toBe(true);
    // Open and click tracking are enabled by publishing OPEN and CLICK events.
    expect([...EventDestination.MatchingEventTypes].sort()).toEqual(
      [
        "send",
        "delivery",
        "bounce",
        "complaint",
        "reject",
        "open",
        "click",
        "renderingFailure",
        "deliveryDelay",
      ].sort(),
    );
    expect(render(EventDestination.EventBridgeDestination.EventBusArn)).toMatch(
      new RegExp(`:events:${region}:.*:event-bus/default$`),
    );
  });

  it("routes this configuration set's SES events to the feedback queue, undeliverable ones to its DLQ", () => {
    const [, rule] = single(
      resources(template, "AWS::Events::Rule").filter(
        ([, r]) => props<{ EventPattern?: unknown }>(r).EventPattern,
      ),
      "SES event rule",
    );
    const { EventPattern, Targets } = props<{
      EventPattern: {
        source: string[];
        "detail-type": string[];
        detail: { mail: { tags: Record<string, unknown[]> } };
      };
      Targets: { Arn: unknown; DeadLetterConfig?: { Arn: unknown } }[];
    }>(rule);
    expect(EventPattern.source).toEqual(["aws.ses"]);
    expect(EventPattern["detail-type"]).toContain("Email Bounced");
    expect(EventPattern["detail-type"]).toContain("Email Complaint Received");
    expect(EventPattern["detail-type"]).toHaveLength(9);
    expect(EventPattern.detail.mail.tags["ses:configuration-set"]?.map(refTarget)).toEqual([configSetId]);
    const [target] = Targets;
    expect(refTarget(target?.Arn)).toBe(feedbackQueueId);
    expect(refTarget(target?.DeadLetterConfig?.Arn)).toBe(dlqId);
  });

  it("lets only that rule send to the feedback queue", () => {
    const policy = single(
      resources(template, "AWS::SQS::QueuePolicy").filter(([, p]) =>
        props<{ Queues: unknown[] }>(p).Queues.some((q) => refTarget(q) === feedbackQueueId),
      ),
      "feedback queue policy",
    )[1];
    const allows = props<{
      PolicyDocument: { Statement: { Effect: string; Principal: unknown; Condition?: unknown }[] };
    }>(policy).PolicyDocument.Statement.filter((s) => s.Effect === "Allow");
    expect(allows).toHaveLength(1);
    expect(allows[0]?.Principal).toEqual({ Service: "events.amazonaws.com" });
    expect(JSON.stringify(allows[0]?.Condition)).toContain("aws:SourceArn");
  });

  it("consumes the feedback queue with partial batch responses and sends unparseable events to its DLQ", () => {
    expect(props<{ FunctionResponseTypes: string[] }>(mapping).FunctionResponseTypes).toEqual([
      "ReportBatchItemFailures",
    ]);
    const env = environment(feedbackFn);
    expect(refTarget(env.FEEDBACK_QUEUE_URL)).toBe(feedbackQueueId);
    expect(refTarget(env.FEEDBACK_DLQ_URL)).toBe(dlqId);
    const sendToDlq = policyStatements(template).filter(
      (s) => s.Action.includes("sqs:SendMessage") && s.Resource.some((r) => refTarget(r) === dlqId),
    );
    expect(sendToDlq.length).toBeGreaterThan(0);
  });

  it("alarms on reputation pauses and on the account's SES bounce and complaint rates", () => {
    const topicId = single(resources(template, "AWS::SNS::Topic"), "alarm topic")[0];
    const alarms = resources(template, "AWS::CloudWatch::Alarm").map(([, a]) =>
      props<{
        Namespace: string;
        MetricName: string;
        Threshold: number;
        ComparisonOperator: string;
        Dimensions?: { Name: string; Value: unknown }[];
        AlarmActions: unknown[];
      }>(a),
    );
    const find = (namespace: string, metric: string) => {
      // The alarm that notifies by itself (an early warning beside it pages through its composite).
      const alarm = single(
        alarms.filter((a) => a.Namespace === namespace && a.MetricName === metric && a.AlarmActions),
        `${metric} alarm`,
      );
      expect(alarm.AlarmActions.map(refTarget)).toEqual([topicId]);
      return alarm;
    };
    expect(find("AWS/SES", "Reputation.BounceRate").Threshold).toBe(0.05);
    expect(find("AWS/SES", "Reputation.ComplaintRate").Threshold).toBe(0.001);
    const pause = find("Steadfast", "ReputationPause");
    expect(pause.Dimensions).toEqual([{ Name: "service", Value: "steadfast-feedback" }]);
    expect(environment(feedbackFn).POWERTOOLS_SERVICE_NAME).toBe("steadfast-feedback");
  });

  it("gives api and sender the unsubscribe key, and the sender the stage's HTTPS URL", () => {
    const [, sender] = serviceFunction(template, "sender");
    const [, api] = serviceFunction(template, "api");
    expect(environment(sender).UNSUBSCRIBE_SECRET_ID).toBe("steadfast/unsubscribe-key");
    expect(environment(api).UNSUBSCRIBE_SECRET_ID).toBe("steadfast/unsubscribe-key");
    const [apiId] = single(resources(template, "AWS::ApiGatewayV2::Api"), "HTTP API");
    expect(render(environment(sender).PUBLIC_API_URL)).toMatch(
      new RegExp(`^https://\\$\\{${apiId}\\}\\.execute-api\\.${region}\\.`),
    );
    const readers = policyStatements(template).filter(
      (s) =>
        s.Action.includes("secretsmanager:GetSecretValue") &&
        s.Resource.some((r) => render(r).includes("secret:steadfast/unsubscribe-key")),
    );
    expect(readers).toHaveLength(2);
  });
});
