import { fileURLToPath } from "node:url";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { QueueWithDlq } from "../../lib/constructs/queue-with-dlq.ts";
import { type QueueAccess, ServiceFunction } from "../../lib/constructs/service-function.ts";
import { environment, policyStatements, refTarget, resources, serviceFunction } from "./support.ts";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A stack with one queue and one function (the scheduler's code, not bundled). */
function setup(extraEnvironment: Record<string, string> = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Test", { env: { region: "us-east-1" } });
  const queue = new QueueWithDlq(stack, "Q", { consumerTimeout: Duration.seconds(30) });
  const fn = new ServiceFunction(stack, "Fn", {
    service: "scheduler",
    projectRoot: PROJECT_ROOT,
    timeout: Duration.seconds(30),
    environment: extraEnvironment,
  });
  const ids = () => {
    const template = Template.fromStack(stack);
    const queues = resources(template, "AWS::SQS::Queue");
    const [mainId] = queues.find(([, q]) => q.Properties?.RedrivePolicy !== undefined) ?? [""];
    const [dlqId] = queues.find(([id]) => id !== mainId) ?? [""];
    return { template, mainId, dlqId };
  };
  return { stack, queue, fn, ids };
}

/** Logical id of each queue the template's policies name → the SQS actions granted on it. */
function sqsGrants(template: Template): Record<string, string[]> {
  const grants: Record<string, Set<string>> = {};
  for (const statement of policyStatements(template)) {
    for (const resource of statement.Resource) {
      const id = refTarget(resource);
      if (id === undefined) continue;
      for (const action of statement.Action.filter((a) => a.startsWith("sqs:"))) {
        (grants[id] ??= new Set()).add(action);
      }
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([id, actions]) => [id, [...actions].sort()]));
}

const SEND = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"];
const CONSUME = [
  "sqs:ChangeMessageVisibility",
  "sqs:DeleteMessage",
  "sqs:GetQueueAttributes",
  "sqs:GetQueueUrl",
  "sqs:ReceiveMessage",
];

describe("ServiceFunction.bindQueue", () => {
  const cases: [QueueAccess, "main" | "dlq", { main?: string[]; dlq?: string[] }][] = [
    ["send", "main", { main: SEND }],
    ["consume", "main", { main: CONSUME }],
    ["monitor", "main", { main: ["sqs:GetQueueAttributes"] }],
    ["deadLetter", "dlq", { dlq: SEND }],
    [
      "redrive",
      "dlq",
      {
        main: ["sqs:GetQueueAttributes", "sqs:SendMessage"],
        dlq: [
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
          "sqs:ReceiveMessage",
          "sqs:StartMessageMoveTask",
        ],
      },
    ],
  ];

  it.each(cases)(
    "%s: publishes the %s queue's URL and grants exactly what the access needs",
    (access, url, grants) => {
      const { queue, fn, ids } = setup();
      fn.bindQueue("SEND_QUEUE_URL", queue, access);
      const { template, mainId, dlqId } = ids();
      const [, resource] = serviceFunction(template, "scheduler");
      expect(refTarget(environment(resource).SEND_QUEUE_URL)).toBe(url === "main" ? mainId : dlqId);
      const expected: Record<string, string[]> = {};
      if (grants.main) expected[mainId] = grants.main;
      if (grants.dlq) expected[dlqId] = grants.dlq;
      expect(sqsGrants(template)).toEqual(expected);
    },
  );

  it("adds the grants when the same name is bound to the same URL again", () => {
    const { queue, fn, ids } = setup();
    fn.bindQueue("SEND_QUEUE_URL", queue, "consume");
    fn.bindQueue("SEND_QUEUE_URL", queue, "send");
    const { template, mainId } = ids();
    expect(sqsGrants(template)).toEqual({ [mainId]: [...new Set([...CONSUME, ...SEND])].sort() });
  });

  it("refuses to bind a name to a second URL", () => {
    const { queue, fn } = setup();
    fn.bindQueue("SEND_QUEUE_URL", queue, "send");
    expect(() => fn.bindQueue("SEND_QUEUE_URL", queue, "redrive")).toThrow(
      "ServiceFunction Test/Fn: environment variable SEND_QUEUE_URL is already set to another value; " +
        "bind each variable to one resource",
    );
  });

  it("refuses to bind a name the function's environment already sets", () => {
    const { queue, fn } = setup({ SEND_QUEUE_URL: "https://example.com/queue" });
    expect(() => fn.bindQueue("SEND_QUEUE_URL", queue, "send")).toThrow(
      /environment variable SEND_QUEUE_URL is already set to another value/,
    );
  });
});

describe("ServiceFunction", () => {
  it("finds its entry under projectRoot by its service name", () => {
    const { ids } = setup();
    expect(serviceFunction(ids().template, "scheduler")).toBeDefined();
  });

  it("needs an entry or a projectRoot", () => {
    const stack = new Stack(new App(), "Test", { env: { region: "us-east-1" } });
    expect(() => new ServiceFunction(stack, "Fn", { service: "api", timeout: Duration.seconds(10) })).toThrow(
      "ServiceFunction Test/Fn: give entry, or projectRoot to find lambdas/api/handler.ts",
    );
  });
});
