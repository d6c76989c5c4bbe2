/**
 * Resolves the CloudFormation intrinsics that appear in function environments and queue
 * properties (Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::Sub, Fn::ImportValue) to the
 * names and URLs of the local runtime.
 */
export interface ResolveScope {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
  importValue(exportName: string): string;
}

export function resolve(value: unknown, scope: ResolveScope): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, scope));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, arg] = entries[0] as [string, unknown];
    switch (key) {
      case "Ref":
        return ref(String(arg), scope);
      case "Fn::GetAtt": {
        const [id, attr] = (Array.isArray(arg) ? arg : String(arg).split(".")) as unknown[];
        return scope.getAtt(String(id), String(attr));
      }
      case "Fn::Join": {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolve(parts, scope) as unknown[]).map(String).join(sep);
      }
      case "Fn::Select": {
        const [index, list] = arg as [unknown, unknown];
        return (resolve(list, scope) as unknown[])[Number(resolve(index, scope))];
      }
      case "Fn::Split": {
        const [sep, source] = arg as [string, unknown];
        return String(resolve(source, scope)).split(sep);
      }
      case "Fn::Sub": {
        const [template, vars] = Array.isArray(arg)
          ? (arg as [string, Record<string, unknown>])
          : [String(arg), {}];
        return template.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
          if (name in vars) return String(resolve(vars[name], scope));
          if (name.includes(".")) {
            const [id, attr] = name.split(".");
            return scope.getAtt(id as string, attr as string);
          }
          return ref(name, scope);
        });
      }
      case "Fn::ImportValue":
        return scope.importValue(String(resolve(arg, scope)));
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, scope)]));
}

function ref(name: string, scope: ResolveScope): string {
  switch (name) {
    case "AWS::Region":
      return scope.region;
    case "AWS::AccountId":
      return scope.accountId;
    case "AWS::Partition":
      return "aws";
    case "AWS::URLSuffix":
      return "amazonaws.com";
    case "AWS::StackName":
      return scope.stackName;
    case "AWS::NoValue":
      return "";
    default:
      return scope.ref(name);
  }
}
