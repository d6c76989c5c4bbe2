import { describe, expect, it } from "vitest";
import type { StackTemplate } from "../../local/assembly.ts";
import { functionIdOf, httpApiFunction, maxConcurrencyFor } from "../../local/template-queries.ts";

/** A region stack as CDK writes it once triggers invoke a function's `live` alias. */
const stack: StackTemplate = {
  stackName: "s",
  region: "us-east-1",
  outputs: {},
  resources: {
    Fn: { Type: "AWS::Lambda::Function", Properties: {} },
    FnVersion: { Type: "AWS::Lambda::Version", Properties: { FunctionName: { Ref: "Fn" } } },
    FnLive: {
      Type: "AWS::Lambda::Alias",
      Properties: {
        FunctionName: { Ref: "Fn" },
        FunctionVersion: { "Fn::GetAtt": ["FnVersion", "Version"] },
        Name: "live",
      },
    },
    Mapping: {
      Type: "AWS::Lambda::EventSourceMapping",
      Properties: {
        FunctionName: {
          "Fn::Join": ["", [{ "Fn::Select": [6, { "Fn::Split": [":", { Ref: "FnLive" }] }] }, ":live"]],
        },
        ScalingConfig: { MaximumConcurrency: 7 },
      },
    },
    Integration: {
      Type: "AWS::ApiGatewayV2::Integration",
      Properties: { IntegrationUri: { Ref: "FnLive" } },
    },
    Queue: { Type: "AWS::SQS::Queue", Properties: {} },
  },
};

describe("the local runtime's reading of function references", () => {
  it("finds the function behind its alias, however the reference is written", () => {
    expect(functionIdOf(stack, stack.resources.Mapping?.Properties?.FunctionName)).toBe("Fn");
    expect(functionIdOf(stack, { Ref: "FnLive" })).toBe("Fn");
    expect(functionIdOf(stack, { "Fn::GetAtt": ["FnVersion", "Version"] })).toBe("Fn");
    expect(functionIdOf(stack, { "Fn::GetAtt": ["Fn", "Arn"] })).toBe("Fn");
    expect(httpApiFunction(stack)).toBe("Fn");
    expect(maxConcurrencyFor(stack, "Fn")).toBe(7);
  });

  it("names no function for a reference to anything else", () => {
    expect(functionIdOf(stack, { Ref: "Queue" })).toBeUndefined();
    expect(functionIdOf(stack, "arn:aws:lambda:us-east-1:1:function:x")).toBeUndefined();
  });
});
