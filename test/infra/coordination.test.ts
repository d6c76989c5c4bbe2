import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config.ts";
import { coordinationPlan, OWNER_LEASE_SECONDS } from "../../lib/coordination.ts";
import {
  type CfnResource,
  environment,
  props,
  refTarget,
  render,
  resources,
  serviceFunctions,
  shippedContext,
  synthesize,
} from "./support.ts";

const shipped = shippedContext().steadfast as Record<string, unknown>;
const plan = (changes: Record<string, unknown> = {}) =>
  coordinationPlan(parseConfig({ ...shipped, ...changes }));

/** The functions that act on campaigns, so on their owner lease. */
// audience-jobs starts the confirmation campaigns of imports into double opt-in lists.
const CAMPAIGN_FUNCTIONS = ["api", "fanout", "sender", "scheduler", "feedback", "audience-jobs"];

describe("coordinationPlan", () => {
  it("gives the shipped pair us-east-1 + us-west-2 a witness in us-east-2", () => {
    expect(plan()).toEqual({
      kind: "mrsc",
      regionSet: "US",
      replicaRegions: ["us-east-1", "us-west-2"],
      witnessRegion: "us-east-2",
    });
  });

  it("gives three regions of one set three replicas and no witness", () => {
    const regions = ["us-west-2", "us-east-1", "us-east-2"];
    expect(plan({ regions })).toEqual({
      kind: "mrsc",
      regionSet: "US",
      replicaRegions: regions,
      witnessRegion: undefined,
    });
  });

  it("takes the witness of a pair from the set's listed order", () => {
    const regions = ["eu-central-1", "eu-west-1"];
    expect(plan({ primaryRegion: "eu-west-1", regions })).toEqual({
      kind: "mrsc",
      regionSet: "EU",
      replicaRegions: regions,
      witnessRegion: "eu-west-2",
    });
  });

  it.each([
    ["regions spanning two sets", { regions: ["us-east-1", "eu-west-1"] }, /not all in one MRSC region set/],
    ["a region in no set", { regions: ["us-east-1", "us-west-1"] }, /not all in one MRSC region set/],
    [
      "more than three regions",
      { primaryRegion: "eu-west-1", regions: ["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"] },
      /at most 3 replicas; 4 regions/,
    ],
    ["a single region", { regions: ["us-east-1"] }, /only us-east-1 is configured/],
    ['coordination "none"', { coordination: "none" }, /coordination is "none"/],
  ])("has no table with %s, and says why", (_, changes, reason) => {
    const result = plan(changes);
    expect(result.kind).toBe("none");
    expect(result.kind === "none" ? result.reason : "").toMatch(reason);
  });
});

/** The statements of the identity policies attached to a function's role. */
function roleStatements(template: Template, fn: CfnResource): { Action: string[]; Resource: unknown[] }[] {
  const roleId = refTarget(props<{ Role: unknown }>(fn).Role);
  return resources(template, "AWS::IAM::Policy")
    .filter(([, policy]) => props<{ Roles: unknown[] }>(policy).Roles.some((r) => refTarget(r) === roleId))
    .flatMap(
      ([, policy]) =>
        props<{ PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }>(policy)
          .PolicyDocument.Statement,
    )
    .map(({ Action, Resource }) => ({ Action: [Action].flat(), Resource: [Resource].flat() }));
}

/** The actions a function may take on the coordination table, and on which resources. */
function coordinationGrants(template: Template, fn: CfnResource) {
  const statements = roleStatements(template, fn).filter((statement) =>
    statement.Resource.some((resource) => /coordination/i.test(render(resource))),
  );
  return {
    actions: [...new Set(statements.flatMap((statement) => statement.Action))].sort(),
    resources: [...new Set(statements.flatMap((statement) => statement.Resource.map(render)))],
  };
}

describe("the shipped configuration", () => {
  const synth = synthesize({}, { bundle: false });
  const [, table] = resources(synth.dataTemplate, "AWS::DynamoDB::GlobalTable").find(
    ([, t]) => props<{ TableName: string }>(t).TableName === "steadfast-coordination",
  ) ?? ["", { Type: "none" }];

  it("declares the coordination table in MRSC mode: replicas in both regions, the witness in us-east-2", () => {
    expect(table.Type).toBe("AWS::DynamoDB::GlobalTable");
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).toEqual(["Retain", "Retain"]);
    const { Replicas, ...rest } = props<{ Replicas: { Region: string }[] }>(table);
    expect(rest).toEqual({
      TableName: "steadfast-coordination",
      MultiRegionConsistency: "STRONG",
      GlobalTableWitnesses: [{ Region: "us-east-2" }],
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
    });
    expect(Replicas.map((replica) => replica.Region).sort()).toEqual(["us-east-1", "us-west-2"]);
    for (const replica of Replicas) {
      expect(replica, replica.Region).toMatchObject({
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });

  it("exposes the table from the data stack", () => {
    expect(synth.data.coordination.kind).toBe("mrsc");
    expect(synth.data.coordinationTable).toBeDefined();
  });

  describe.each([...synth.regionTemplates])("region stack %s", (region, template) => {
    const functions = serviceFunctions(template);

    it.each(CAMPAIGN_FUNCTIONS)(
      "%s: home region, owner lease, and item access to this region's replica",
      (name) => {
        const [, fn] = functions.get(name) ?? ["", { Type: "none" }];
        const env = environment(fn);
        expect(env.STEADFAST_HOME_REGION).toBe("us-east-1");
        expect(env.OWNER_LEASE_SECONDS).toBe(String(OWNER_LEASE_SECONDS));
        expect(env.STEADFAST_COORDINATION_REGION).toBeUndefined();
        expect(render(env.COORDINATION_TABLE)).toMatch(/coordination/i);
        const grants = coordinationGrants(template, fn);
        // Items one by one, never a query or scan; the API alone may delete (an Idempotency-Key's
        // claim, when the request under it was refused).
        expect(grants.actions).toEqual([
          ...(name === "api" ? ["dynamodb:DeleteItem"] : []),
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
        ]);
        // The primary region imports the data stack's table; the others name their own replica.
        expect(grants.resources).toEqual([
          region === "us-east-1"
            ? expect.stringMatching(/"Fn::ImportValue":"steadfast-data:.*CoordinationTable.*Arn/)
            : `arn:\${AWS::Partition}:dynamodb:${region}:\${AWS::AccountId}:table/steadfast-coordination`,
        ]);
      },
    );
  });
});

describe.each([
  ["regions spanning two sets", { regions: "us-east-1,eu-west-1" }],
  ['coordination "none"', { coordination: "none" }],
])("without a coordination table (%s)", (_, overrides) => {
  const synth = synthesize(overrides, { bundle: false });

  it("declares no coordination table, and warns that takeovers are by hand", () => {
    const names = resources(synth.dataTemplate, "AWS::DynamoDB::GlobalTable").map(
      ([, t]) => props<{ TableName: string }>(t).TableName,
    );
    expect(names.sort()).toEqual(["steadfast-audience", "steadfast-ledger"]);
    expect(synth.data.coordinationTable).toBeUndefined();
    Annotations.fromStack(synth.data).hasWarning(
      "*",
      Match.stringLikeRegexp("No coordination table.*POST /v1/campaigns/\\{id\\}/takeover"),
    );
  });

  it("still gives the campaign functions the home region and lease, and nobody the table", () => {
    for (const [region, template] of synth.regionTemplates) {
      for (const [name, [, fn]] of serviceFunctions(template)) {
        const env = environment(fn);
        expect(env.COORDINATION_TABLE, `${region} ${name}`).toBeUndefined();
        expect(coordinationGrants(template, fn).actions, `${region} ${name}`).toEqual([]);
        const campaign = CAMPAIGN_FUNCTIONS.includes(name);
        expect(env.STEADFAST_HOME_REGION, `${region} ${name}`).toBe(campaign ? "us-east-1" : undefined);
      }
    }
  });
});
