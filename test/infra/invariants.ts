import type { Template } from "aws-cdk-lib/assertions";
import { expect } from "vitest";
import {
  environment,
  policyStatements,
  props,
  refTarget,
  render,
  resources,
  serviceFunction,
  serviceFunctions,
  shape,
} from "./support.ts";

/** Actions that have no resource-level permissions, so `Resource: "*"` is the only option. */
const STAR_RESOURCE_ACTIONS = new Set([
  "ses:GetAccount",
  // The api reads ApproximateAgeOfOldestMessage for GET /v1/admin/queues.
  "cloudwatch:GetMetricData",
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
]);

/**
 * Both data tables (audience, ledger) have a PITR-enabled, deletion-protected replica in exactly
 * `regions`, and are retained. (The coordination table has expectations of its own.)
 */
export function expectGlobalTables(template: Template, regions: readonly string[]): void {
  const tables = resources(template, "AWS::DynamoDB::GlobalTable").filter(
    ([, table]) => props<{ TableName: string }>(table).TableName !== "steadfast-coordination",
  );
  const names = tables.map(([, table]) => props<{ TableName: string }>(table).TableName).sort();
  expect(names).toEqual(["steadfast-audience", "steadfast-ledger"]);
  for (const [id, table] of tables) {
    expect(table.DeletionPolicy, id).toBe("Retain");
    expect(table.UpdateReplacePolicy, id).toBe("Retain");
    const { Replicas, BillingMode } = props<{
      BillingMode: string;
      Replicas: {
        Region: string;
        DeletionProtectionEnabled?: boolean;
        PointInTimeRecoverySpecification?: { PointInTimeRecoveryEnabled?: boolean };
      }[];
    }>(table);
    expect(BillingMode, id).toBe("PAY_PER_REQUEST");
    expect(Replicas.map((replica) => replica.Region).sort(), id).toEqual([...regions].sort());
    for (const replica of Replicas) {
      expect(replica.DeletionProtectionEnabled, `${id} ${replica.Region}`).toBe(true);
      expect(
        replica.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled,
        `${id} ${replica.Region}`,
      ).toBe(true);
    }
  }
}

/**
 * The secrets (admin key, unsubscribe signing key) are retained and replicated to every region
 * except the primary one.
 */
export function expectReplicatedSecret(
  template: Template,
  primary: string,
  regions: readonly string[],
): void {
  const secrets = resources(template, "AWS::SecretsManager::Secret");
  expect(secrets.map(([, s]) => props<{ Name: string }>(s).Name).sort()).toEqual([
    "steadfast/admin-api-key",
    "steadfast/unsubscribe-key",
  ]);
  for (const [id, secret] of secrets) {
    expect(secret.DeletionPolicy, id).toBe("Retain");
    const { ReplicaRegions = [] } = props<{ ReplicaRegions?: { Region: string }[] }>(secret);
    expect(ReplicaRegions.map((replica) => replica.Region).sort(), id).toEqual(
      regions.filter((r) => r !== primary).sort(),
    );
  }
}

/**
 * SES access is least-privilege: no wildcard action, `*` resources only for actions without
 * resource-level permissions, and ses:SendEmail covers identity + configuration set in every region.
 */
export function expectScopedSesPermissions(template: Template, regions: readonly string[]): void {
  const statements = policyStatements(template);
  for (const statement of statements) {
    expect(statement.Action.filter((action) => action.endsWith(":*") || action === "*")).toEqual([]);
    if (statement.Resource.includes("*")) {
      expect(statement.Action.filter((action) => !STAR_RESOURCE_ACTIONS.has(action))).toEqual([]);
    }
  }
  const sendResources = statements
    .filter((statement) => statement.Action.includes("ses:SendEmail"))
    .flatMap((statement) => statement.Resource.map(render));
  expect(sendResources.length).toBeGreaterThan(0);
  const arn = (region: string, resource: string) =>
    `arn:\${AWS::Partition}:ses:${region}:\${AWS::AccountId}:${resource}`;
  const expected = regions.flatMap((region) => [
    arn(region, "identity/example.com"),
    arn(region, "configuration-set/steadfast"),
  ]);
  expect([...new Set(sendResources)].sort()).toEqual(expected.sort());
  // GetAccount (the sender's quota, the API's health check) is allowed, nothing else on "*".
  const starSesActions = statements
    .filter((statement) => statement.Resource.includes("*"))
    .flatMap((statement) => statement.Action.filter((action) => action.startsWith("ses:")));
  expect(new Set(starSesActions)).toEqual(new Set(["ses:GetAccount"]));
}

/** The sender tries its own region first, then every other region in config order. */
export function expectSesRegions(template: Template, ownRegion: string, regions: readonly string[]): void {
  const [, sender] = serviceFunction(template, "sender");
  const sesRegions = String(environment(sender).SES_REGIONS).split(",");
  expect(sesRegions).toEqual([ownRegion, ...regions.filter((region) => region !== ownRegion)]);
}

/** Every region stack has the same resource types with the same counts. */
export function expectSameShape(templates: ReadonlyMap<string, Template>): void {
  const shapes = [...templates].map(([region, template]) => ({ region, shape: shape(template) }));
  const first = shapes[0];
  expect(shapes.length).toBeGreaterThan(0);
  for (const other of shapes) {
    expect(other.shape, `${other.region} vs ${first?.region}`).toEqual(first?.shape);
  }
}

/** Every queue a function is given the URL of, it has SQS permissions on (URL and grant go together). */
export function expectQueueUrlsGranted(template: Template): void {
  const queueIds = new Set(resources(template, "AWS::SQS::Queue").map(([id]) => id));
  const policies = resources(template, "AWS::IAM::Policy");
  let checked = 0;
  for (const [name, [, fn]] of serviceFunctions(template)) {
    const roleId = refTarget(props<{ Role: unknown }>(fn).Role);
    const granted = new Set(
      policies
        .filter(([, policy]) =>
          props<{ Roles: unknown[] }>(policy).Roles.some((r) => refTarget(r) === roleId),
        )
        .flatMap(
          ([, policy]) =>
            props<{ PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }>(
              policy,
            ).PolicyDocument.Statement,
        )
        .filter(({ Action }) => [Action].flat().some((action) => action.startsWith("sqs:")))
        .flatMap(({ Resource }) => [Resource].flat().map(refTarget)),
    );
    const urls = Object.entries(environment(fn)).filter(([, value]) => queueIds.has(refTarget(value) ?? ""));
    for (const [envName, value] of urls) {
      expect(granted.has(refTarget(value)), `${name} ${envName}`).toBe(true);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(0);
}
