import { describe, expect, it } from "vitest";
import type { CfnResource, StackTemplate } from "../../local/assembly.ts";
import { tablePlacement } from "../../local/provision.ts";

/** Where the local runtime puts each kind of table the templates declare. */
const stack = (region: string): StackTemplate => ({ stackName: "data", region, resources: {}, outputs: {} });

const keys = {
  KeySchema: [
    { AttributeName: "pk", KeyType: "HASH" },
    { AttributeName: "sk", KeyType: "RANGE" },
  ],
  AttributeDefinitions: [
    { AttributeName: "pk", AttributeType: "S" },
    { AttributeName: "sk", AttributeType: "S" },
  ],
};

/** A `TableV2` with `multiRegionConsistency: STRONG` and a witness, as the CDK synthesizes it. */
const strongTable: CfnResource = {
  Type: "AWS::DynamoDB::GlobalTable",
  Properties: {
    ...keys,
    TableName: "steadfast-coordination",
    BillingMode: "PAY_PER_REQUEST",
    MultiRegionConsistency: "STRONG",
    GlobalTableWitnesses: [{ Region: "us-east-2" }],
    Replicas: [{ Region: "us-west-2" }, { Region: "us-east-1" }],
  },
};

describe("local table placement", () => {
  it("makes one store of a strongly consistent global table, in its stack's region", () => {
    expect(tablePlacement(stack("us-east-1"), strongTable)).toEqual({ kind: "strong", region: "us-east-1" });
    expect(tablePlacement(stack("us-west-2"), strongTable)).toEqual({ kind: "strong", region: "us-west-2" });
  });

  it("places it in its first replica region when its stack's region has none", () => {
    expect(tablePlacement(stack("eu-west-1"), strongTable)).toEqual({ kind: "strong", region: "us-east-1" });
  });

  it("replicates an eventually consistent global table (the default mode) between its replica regions", () => {
    const eventual = (consistency?: string): CfnResource => ({
      Type: "AWS::DynamoDB::GlobalTable",
      Properties: {
        ...keys,
        ...(consistency ? { MultiRegionConsistency: consistency } : {}),
        Replicas: [{ Region: "us-west-2" }, { Region: "us-east-1" }],
      },
    });
    for (const table of [eventual(), eventual("EVENTUAL")]) {
      expect(tablePlacement(stack("us-east-1"), table)).toEqual({
        kind: "replicated",
        regions: ["us-east-1", "us-west-2"],
      });
    }
  });

  it("keeps a plain table in its stack's region, and ignores what is not a table", () => {
    expect(tablePlacement(stack("us-west-2"), { Type: "AWS::DynamoDB::Table", Properties: keys })).toEqual({
      kind: "table",
      region: "us-west-2",
    });
    expect(tablePlacement(stack("us-west-2"), { Type: "AWS::SQS::Queue" })).toBeUndefined();
  });
});
