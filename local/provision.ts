import { ENV } from "../lambdas/contracts/env.ts";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  type StreamViewType,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { generateApiKey } from "../lambdas/domain/api-key.ts";
import type { Assembly, CfnResource, StackTemplate } from "./assembly.ts";
import { resolve } from "./intrinsics.ts";
import { LOCAL_CREDENTIALS } from "./local-account.ts";
import type { GlobalTableRef } from "./replication.ts";
import type { CoordinationTables, QueueRef } from "./runtime-types.ts";
import { type Exports, resourcesOf, scalar, stackScope } from "./template-queries.ts";

/**
 * Creates what the templates declare on the emulators: tables (a global table once per replica
 * region, in that region's store of DynamoDB Local; a strongly consistent one once, in the
 * coordination store), each stack's queues with their redrive policies, and the values of the
 * secrets.
 */

export interface ProvisionedTables {
  /** Table names by logical id. */
  readonly names: Map<string, string>;
  /** The global tables replicated between their replicas, each with the regions of its replicas. */
  readonly globalTables: GlobalTableRef[];
  /** The strongly consistent tables, if the app declares any. */
  readonly coordination?: CoordinationTables;
}

/**
 * Set on every function when the app declares a strongly consistent table: the signing region of
 * the one local store that holds such tables. On AWS it is unset, and each function uses its own
 * region's replica.
 */
export const COORDINATION_REGION_ENV = ENV.coordinationRegion;

/** Where a table of the templates lives locally. */
export type TablePlacement =
  | { readonly kind: "table"; readonly region: string }
  | { readonly kind: "replicated"; readonly regions: readonly string[] }
  | { readonly kind: "strong"; readonly region: string };

/**
 * A plain table lives in its stack's region; an eventually consistent global table has a replica in
 * each of its regions, kept in step by the replication; a strongly consistent one
 * (`"MultiRegionConsistency": "STRONG"`) is a single store that every region reads and writes, as
 * MRSC makes one table of its replicas: it is placed in its stack's region (the app's home region),
 * or its first replica region if the stack's is not one of them.
 */
export function tablePlacement(stack: StackTemplate, resource: CfnResource): TablePlacement | undefined {
  const global = resource.Type === "AWS::DynamoDB::GlobalTable";
  if (!global && resource.Type !== "AWS::DynamoDB::Table") return undefined;
  if (!global) return { kind: "table", region: stack.region };
  const props = resource.Properties ?? {};
  const replicas = (props.Replicas as { Region?: unknown }[] | undefined) ?? [];
  const regions = [...new Set(replicas.map((r) => scalar(r.Region, stack.region)))].sort();
  if (regions.length === 0) regions.push(stack.region);
  if (scalar(props.MultiRegionConsistency, "EVENTUAL").toUpperCase() === "STRONG") {
    return { kind: "strong", region: regions.includes(stack.region) ? stack.region : (regions[0] as string) };
  }
  return { kind: "replicated", regions };
}

/**
 * Creates every stack's tables: a plain table in its stack's region, a global table in each of its
 * replicas' regions, each replica with the table's GSIs, TTL setting and a stream of new and old
 * images (which global tables replicate from). Strongly consistent global tables are created once,
 * all in the store of the first one's region (the functions of every region are told to sign their
 * calls to them with that region), and are not replicated.
 */
export async function provisionTables(assembly: Assembly, endpoint: string): Promise<ProvisionedTables> {
  const names = new Map<string, string>();
  const globalTables: GlobalTableRef[] = [];
  let coordination: { region: string; tables: string[] } | undefined;
  const creations: Promise<void>[] = [];
  for (const stack of assembly.stacks) {
    for (const [logicalId, resource] of Object.entries(stack.resources)) {
      const placement = tablePlacement(stack, resource);
      if (!placement) continue;
      const props = resource.Properties ?? {};
      const name = typeof props.TableName === "string" ? props.TableName : `${stack.stackName}-${logicalId}`;
      names.set(logicalId, name);
      if (placement.kind === "replicated") {
        globalTables.push({ name, regions: placement.regions });
        for (const region of placement.regions)
          creations.push(createTable(name, props, region, endpoint, true));
        continue;
      }
      let region = placement.region;
      if (placement.kind === "strong") {
        coordination ??= { region, tables: [] };
        coordination.tables.push(name);
        region = coordination.region;
      }
      creations.push(createTable(name, props, region, endpoint, false));
    }
  }
  await Promise.all(creations);
  return { names, globalTables, ...(coordination ? { coordination } : {}) };
}

async function createTable(
  name: string,
  props: Record<string, unknown>,
  region: string,
  endpoint: string,
  global: boolean,
): Promise<void> {
  const client = new DynamoDBClient({ region, endpoint, credentials: LOCAL_CREDENTIALS });
  try {
    const gsis = (props.GlobalSecondaryIndexes as CreateTableCommandInput["GlobalSecondaryIndexes"]) ?? [];
    const stream = (props.StreamSpecification as { StreamViewType?: StreamViewType } | undefined)
      ?.StreamViewType;
    await client.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: props.KeySchema as CreateTableCommandInput["KeySchema"],
        AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput["AttributeDefinitions"],
        BillingMode: "PAY_PER_REQUEST",
        ...(gsis.length
          ? {
              GlobalSecondaryIndexes: gsis.map((g) => ({
                IndexName: g.IndexName,
                KeySchema: g.KeySchema,
                Projection: g.Projection,
              })),
            }
          : {}),
        // Global tables replicate from a stream of new and old images; AWS requires it of them.
        ...(global || stream
          ? {
              StreamSpecification: {
                StreamEnabled: true,
                StreamViewType: global ? "NEW_AND_OLD_IMAGES" : stream,
              },
            }
          : {}),
      }),
    );
    const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled && ttl.AttributeName) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
        }),
      );
    }
  } finally {
    client.destroy();
  }
}

/** Creates a stack's queues in its region; DLQs first, then the queues whose redrive policy names them. */
export async function provisionQueues(
  stack: StackTemplate,
  sqs: SQSClient,
  queues: Map<string, QueueRef>,
  exports: Exports,
  tableNames: Map<string, string>,
  maxVisibility?: number,
): Promise<void> {
  const all = resourcesOf(stack, "AWS::SQS::Queue");
  for (const [logicalId, resource] of all) {
    const props = resource.Properties ?? {};
    const name =
      typeof props.QueueName === "string" ? props.QueueName : `${stack.stackName}-${logicalId}`.slice(0, 80);
    const attributes: Record<string, string> = {};
    for (const key of [
      "VisibilityTimeout",
      "MessageRetentionPeriod",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
      "MaximumMessageSize",
    ]) {
      if (props[key] !== undefined) attributes[key] = scalar(props[key], "");
    }
    if (maxVisibility !== undefined && Number(attributes.VisibilityTimeout ?? 30) > maxVisibility) {
      attributes.VisibilityTimeout = String(maxVisibility);
    }
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = created.QueueUrl as string;
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
    );
    queues.set(logicalId, { url, arn: attrs.Attributes?.QueueArn as string });
  }
  const scope = stackScope(stack, queues, tableNames, exports);
  for (const [logicalId, resource] of all) {
    const redrive = resource.Properties?.RedrivePolicy;
    if (!redrive) continue;
    const policy = resolve(redrive, scope) as { deadLetterTargetArn: string; maxReceiveCount: number };
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: (queues.get(logicalId) as { url: string }).url,
        Attributes: { RedrivePolicy: JSON.stringify(policy) },
      }),
    );
  }
}

/** Secret values by name: the admin API key is the runtime's key; any other secret gets a random value. */
export function secretValues(assembly: Assembly, apiKey: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const stack of assembly.stacks) {
    for (const [logicalId, resource] of resourcesOf(stack, "AWS::SecretsManager::Secret")) {
      const name = scalar(resource.Properties?.Name, logicalId);
      values.set(name, name.endsWith("admin-api-key") ? apiKey : generateApiKey());
    }
  }
  return values;
}
