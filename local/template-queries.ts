import { SES_EVENT_SOURCE } from "../lambdas/contracts/events.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Assembly, CfnResource, StackTemplate } from "./assembly.ts";
import { type ResolveScope, resolve } from "./intrinsics.ts";
import { LOCAL_ACCOUNT } from "./local-account.ts";
import type { QueueRef } from "./runtime-types.ts";

/**
 * What the synthesized templates say, read the way the local runtime needs it: resources by type,
 * the targets of references, schedules, function assets, and the scope intrinsics resolve in.
 */

/** Stack exports (for Fn::ImportValue) by export name. */
export type Exports = Map<string, string>;

/** Milliseconds of an EventBridge `rate(N unit)` expression; undefined for cron expressions. */
export function rateMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  const unit = m[2]?.startsWith("minute") ? 60_000 : m[2]?.startsWith("hour") ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

export function hasType(stack: StackTemplate, type: string): boolean {
  return Object.values(stack.resources).some((r) => r.Type === type);
}

export function resourcesOf(stack: StackTemplate, type: string): [string, CfnResource][] {
  return Object.entries(stack.resources).filter(([, r]) => r.Type === type);
}

export function refTarget(value: unknown): string | undefined {
  if (value && typeof value === "object") {
    const v = value as { Ref?: string; "Fn::GetAtt"?: [string, string] };
    if (v.Ref) return v.Ref;
    if (v["Fn::GetAtt"]) return v["Fn::GetAtt"][0];
  }
  return undefined;
}

/**
 * The logical id of the function a reference names, through an alias or a version of it (triggers
 * invoke the `live` alias on AWS; locally there is one copy of the code, the function's).
 */
export function functionIdOf(stack: StackTemplate, value: unknown): string | undefined {
  for (const id of referencedIds(value)) {
    const resource = stack.resources[id];
    if (resource?.Type === "AWS::Lambda::Function") return id;
    if (resource?.Type === "AWS::Lambda::Alias" || resource?.Type === "AWS::Lambda::Version")
      return functionIdOf(stack, resource.Properties?.FunctionName);
  }
  return undefined;
}

/**
 * Every logical id a value refers to, however deep in intrinsics (an event source names an alias
 * as `Fn::Join` of the function name taken from the alias's ARN and `:live`).
 */
function referencedIds(value: unknown): string[] {
  const direct = refTarget(value);
  if (direct !== undefined) return [direct];
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (value && typeof value === "object") return Object.values(value).flatMap(referencedIds);
  return [];
}

export function stringValues(env: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

export function maxConcurrencyFor(stack: StackTemplate, functionId: string): number | undefined {
  for (const [, mapping] of resourcesOf(stack, "AWS::Lambda::EventSourceMapping")) {
    if (functionIdOf(stack, mapping.Properties?.FunctionName) === functionId) {
      return Number(
        (mapping.Properties?.ScalingConfig as { MaximumConcurrency?: number })?.MaximumConcurrency ?? 5,
      );
    }
  }
  return undefined;
}

export function assetModule(assembly: Assembly, resource: CfnResource): string {
  const assetPath = resource.Metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string") throw new Error("function has no asset path in its metadata");
  const dir = join(assembly.dir, assetPath);
  for (const file of ["index.mjs", "index.js", "index.cjs"])
    if (existsSync(join(dir, file))) return join(dir, file);
  throw new Error(`no index.mjs or index.js in asset ${assetPath}`);
}

/** The function behind the HTTP API's routes (an AWS_PROXY integration whose URI is a function ARN). */
export function httpApiFunction(stack: StackTemplate): string | undefined {
  for (const [, integration] of resourcesOf(stack, "AWS::ApiGatewayV2::Integration")) {
    const target = functionIdOf(stack, integration.Properties?.IntegrationUri);
    if (target) return target;
  }
  return undefined;
}

/** The queue the template's SES EventBridge rule delivers to. */
export function feedbackQueueOf(stack: StackTemplate): string | undefined {
  for (const resource of Object.values(stack.resources)) {
    if (resource.Type !== "AWS::Events::Rule") continue;
    const pattern = resource.Properties?.EventPattern as { source?: string[] } | undefined;
    if (!pattern?.source?.includes(SES_EVENT_SOURCE)) continue;
    for (const target of (resource.Properties?.Targets as { Arn?: unknown }[] | undefined) ?? []) {
      const getAtt = (target.Arn as { "Fn::GetAtt"?: [string, string] } | undefined)?.["Fn::GetAtt"];
      if (getAtt && stack.resources[getAtt[0]]?.Type === "AWS::SQS::Queue") return getAtt[0];
    }
  }
  return undefined;
}

/** Stack exports (for Fn::ImportValue), from the stacks that own tables: the only values shared across stacks. */
export function collectExports(assembly: Assembly, tableNames: Map<string, string>): Exports {
  const exports: Exports = new Map();
  for (const stack of assembly.stacks) {
    const scope = stackScope(stack, new Map(), tableNames, exports);
    for (const output of Object.values(stack.outputs)) {
      if (!output.Export) continue;
      try {
        exports.set(String(resolve(output.Export.Name, scope)), String(resolve(output.Value, scope)));
      } catch {
        // An export the local runtime has no use for.
      }
    }
  }
  return exports;
}

/** What Ref, Fn::GetAtt and Fn::ImportValue stand for in a stack, given what the runtime created. */
export function stackScope(
  stack: StackTemplate,
  queues: Map<string, QueueRef>,
  tableNames: Map<string, string>,
  exports: Exports,
): ResolveScope {
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${stack.region}:${LOCAL_ACCOUNT}:${resource}`;
  return {
    region: stack.region,
    accountId: LOCAL_ACCOUNT,
    stackName: stack.stackName,
    ref(id) {
      const type = stack.resources[id]?.Type;
      if (type === "AWS::SQS::Queue") return must(queues.get(id)?.url, id);
      if (type === "AWS::DynamoDB::GlobalTable" || type === "AWS::DynamoDB::Table")
        return must(tableNames.get(id), id);
      if (type === "AWS::Lambda::Function") return `${stack.stackName}-${id}`;
      if (type === "AWS::SecretsManager::Secret")
        return arn("secretsmanager", `secret:${scalar(stack.resources[id]?.Properties?.Name, id)}`);
      if (type === "AWS::SNS::Topic") return arn("sns", id);
      const name = stack.resources[id]?.Properties?.Name;
      return typeof name === "string" ? name : id;
    },
    getAtt(id, attribute) {
      const type = stack.resources[id]?.Type;
      if (type === "AWS::SQS::Queue") {
        const queue = queues.get(id);
        if (attribute === "Arn") return must(queue?.arn, id);
        if (attribute === "QueueUrl") return must(queue?.url, id);
        if (attribute === "QueueName") return must(queue?.arn.split(":").pop(), id);
      }
      if ((type === "AWS::DynamoDB::GlobalTable" || type === "AWS::DynamoDB::Table") && attribute === "Arn") {
        return arn("dynamodb", `table/${must(tableNames.get(id), id)}`);
      }
      if (type === "AWS::Lambda::Function" && attribute === "Arn")
        return arn("lambda", `function:${stack.stackName}-${id}`);
      return `${id}.${attribute}`;
    },
    importValue(name) {
      return must(exports.get(name), name);
    },
  };
}

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`cannot resolve ${what} locally`);
  return value;
}

/** A template property as text: strings, numbers and booleans as written, anything else `fallback`. */
export function scalar(value: unknown, fallback: string): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : fallback;
}
