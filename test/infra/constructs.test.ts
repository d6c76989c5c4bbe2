import { App, Duration, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { describe, expect, it } from "vitest";
import { QueueWithDlq } from "../../lib/constructs/queue-with-dlq.ts";

const newStack = () => new Stack(new App(), "Test", { env: { region: "us-east-1" } });

const inlineFunction = (stack: Stack, timeout: Duration) =>
  new lambda.Function(stack, "Fn", {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("exports.handler = async () => ({})"),
    timeout,
  });

describe("QueueWithDlq", () => {
  it("defaults the visibility timeout to 6 × consumer timeout + batching window", () => {
    const stack = newStack();
    const q = new QueueWithDlq(stack, "Q", {
      consumerTimeout: Duration.seconds(30),
      consumerMaxBatchingWindow: Duration.seconds(2),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::SQS::Queue", { VisibilityTimeout: 182, SqsManagedSseEnabled: true });
    template.hasResourceProperties("AWS::SQS::Queue", { MessageRetentionPeriod: 1_209_600 });
    expect(q.alarms).toHaveLength(2);
  });

  it("rejects an explicit visibility timeout shorter than 6 × consumer timeout", () => {
    expect(
      () =>
        new QueueWithDlq(newStack(), "Q", {
          consumerTimeout: Duration.minutes(1),
          visibilityTimeout: Duration.minutes(5),
        }),
    ).toThrow(
      "QueueWithDlq Test/Q: visibilityTimeout (300 s) must be >= 6 × consumerTimeout (60 s) = 360 s; " +
        "see https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
    );
  });

  it("accepts an explicit visibility timeout of exactly 6 × consumer timeout", () => {
    const stack = newStack();
    new QueueWithDlq(stack, "Q", {
      consumerTimeout: Duration.minutes(1),
      visibilityTimeout: Duration.minutes(6),
    });
    Template.fromStack(stack).hasResourceProperties("AWS::SQS::Queue", { VisibilityTimeout: 360 });
  });

  it("refuses a consumer whose timeout exceeds the one the queue was sized for", () => {
    const stack = newStack();
    const q = new QueueWithDlq(stack, "Q", { consumerTimeout: Duration.seconds(30) });
    expect(() => q.addConsumer(inlineFunction(stack, Duration.minutes(1)))).toThrow(
      /consumer Test\/Fn timeout \(60 s\) exceeds consumerTimeout \(30 s\)/,
    );
  });

  it("subscribes a consumer with partial batch responses", () => {
    const stack = newStack();
    const q = new QueueWithDlq(stack, "Q", { consumerTimeout: Duration.seconds(30) });
    q.addConsumer(inlineFunction(stack, Duration.seconds(30)), { batchSize: 2 });
    Template.fromStack(stack).hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 2,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });
});
