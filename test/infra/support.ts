import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp, type SteadfastApp } from "../../lib/app.ts";

/** A CloudFormation resource as it appears in a synthesized template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly UpdatePolicy?: Record<string, unknown>;
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: unknown[];
}

/** The context shipped in cdk.json: the same configuration and feature flags `cdk synth` uses. */
export function shippedContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

export interface SynthesizedApp extends SteadfastApp {
  readonly dataTemplate: Template;
  /** Region stack templates keyed by region, in config order. */
  readonly regionTemplates: ReadonlyMap<string, Template>;
}

/**
 * Builds the whole app in-process. `overrides` are extra context entries, exactly like
 * `cdk synth -c key=value`. With `bundle: false` no esbuild run happens (assets are stubs).
 */
export function synthesize(overrides: Record<string, unknown> = {}, { bundle = true } = {}): SynthesizedApp {
  const app = new App({
    context: { ...shippedContext(), ...overrides, ...(bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const built = buildApp(app);
  return {
    ...built,
    dataTemplate: Template.fromStack(built.data),
    regionTemplates: new Map(built.regions.map((stack) => [stack.region, Template.fromStack(stack)])),
  };
}

export function resources(template: Template, type?: string): [string, CfnResource][] {
  const all = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources;
  return Object.entries(all).filter(([, resource]) => type === undefined || resource.Type === type);
}

export function resource(template: Template, logicalId: string): CfnResource {
  const found = resources(template).find(([id]) => id === logicalId);
  if (found === undefined) throw new Error(`no resource ${logicalId} in template`);
  return found[1];
}

/** The only element of `items`; throws (failing the test) when there are none or several. */
export function single<T>(items: readonly T[], what: string): T {
  const [first, ...rest] = items;
  if (first === undefined || rest.length > 0)
    throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return first;
}

export function props<T>(resource: CfnResource): T {
  return (resource.Properties ?? {}) as T;
}

/** Logical id targeted by `{ Ref: id }` or `{ "Fn::GetAtt": [id, attr] }`, else undefined. */
export function refTarget(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === "string") return ref;
  const getAtt = (value as { "Fn::GetAtt"?: unknown })["Fn::GetAtt"];
  if (Array.isArray(getAtt) && typeof getAtt[0] === "string") return getAtt[0];
  return undefined;
}

/**
 * The function a trigger invokes, through the alias or version it names (triggers name the `live`
 * alias, which CodeDeploy shifts); undefined if the value names no function.
 */
export function invokedFunction(template: Template, value: unknown): string | undefined {
  const id = invokedResource(value);
  if (id === undefined) return undefined;
  const found = resources(template).find(([logicalId]) => logicalId === id)?.[1];
  if (found?.Type === "AWS::Lambda::Alias" || found?.Type === "AWS::Lambda::Version")
    return invokedFunction(template, (found.Properties as { FunctionName?: unknown }).FunctionName);
  return found?.Type === "AWS::Lambda::Function" ? id : undefined;
}

/**
 * The resource a trigger's function reference names, however deep in intrinsics: an event source
 * names an alias as `Fn::Join` of the function name taken from the alias's ARN and `:live`.
 */
export function invokedResource(value: unknown): string | undefined {
  const direct = refTarget(value);
  if (direct !== undefined) return direct;
  const inner = Array.isArray(value) ? value : value && typeof value === "object" ? Object.values(value) : [];
  for (const item of inner) {
    const found = invokedResource(item);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Renders Ref/GetAtt/Join intrinsics as a readable string, e.g. `arn:${AWS::Partition}:ses:...`. */
export function render(value: unknown): string {
  if (typeof value === "string" || typeof value === "number") return String(value);
  const join = (value as { "Fn::Join"?: [string, unknown[]] })?.["Fn::Join"];
  if (join !== undefined) return join[1].map(render).join(join[0]);
  const getAtt = (value as { "Fn::GetAtt"?: [string, string] })?.["Fn::GetAtt"];
  if (getAtt !== undefined) return `\${${getAtt[0]}.${getAtt[1]}}`;
  const target = refTarget(value);
  if (target !== undefined) return `\${${target}}`;
  return JSON.stringify(value);
}

const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every statement of every identity policy in the template, with Action/Resource normalized to arrays. */
export function policyStatements(template: Template): Statement[] {
  return resources(template, "AWS::IAM::Policy").flatMap(([, policy]) => {
    const { PolicyDocument } = props<{ PolicyDocument: { Statement: Record<string, unknown>[] } }>(policy);
    return PolicyDocument.Statement.map((statement) => ({
      Effect: String(statement.Effect),
      Action: toArray(statement.Action as string | string[]),
      Resource: toArray(statement.Resource),
    }));
  });
}

/** Lambda functions created by ServiceFunction, keyed by STEADFAST_FUNCTION. */
export function serviceFunctions(template: Template): Map<string, [string, CfnResource]> {
  const found = new Map<string, [string, CfnResource]>();
  for (const [id, fn] of resources(template, "AWS::Lambda::Function")) {
    const env = props<{ Environment?: { Variables?: Record<string, unknown> } }>(fn).Environment?.Variables;
    const name = env?.STEADFAST_FUNCTION;
    if (typeof name === "string") found.set(name, [id, fn]);
  }
  return found;
}

/** The ServiceFunction named `name` (api, fanout, sender); throws if it is missing. */
export function serviceFunction(template: Template, name: string): [string, CfnResource] {
  const found = serviceFunctions(template).get(name);
  if (found === undefined) throw new Error(`no ${name} function in template`);
  return found;
}

export function environment(fn: CfnResource): Record<string, unknown> {
  return props<{ Environment: { Variables: Record<string, unknown> } }>(fn).Environment.Variables;
}

/** Resource type → count: the "shape" of a stack. */
export function shape(template: Template): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [, { Type }] of resources(template)) counts[Type] = (counts[Type] ?? 0) + 1;
  return counts;
}
