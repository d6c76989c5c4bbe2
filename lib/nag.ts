import { Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Acknowledges a cdk-nag finding on `scope` and everything under it, with the reason it does not
 * apply. The infra tests run the AwsSolutions and Serverless packs and fail on any finding not
 * acknowledged here, in the construct that causes it.
 */
export function acknowledge(scope: IConstruct, findings: Readonly<Record<string, string>>): void {
  for (const [id, reason] of Object.entries(findings)) Validations.of(scope).acknowledge({ id, reason });
}
