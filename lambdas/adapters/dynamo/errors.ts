import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

/**
 * DynamoDB error checks. Errors are matched by name, not class: a bundle may hold more than one copy
 * of the SDK.
 */

/** A conditional write that did not apply. */
export function isConditionalFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/**
 * The item a failed conditional write found (`ReturnValuesOnConditionCheckFailure: "ALL_OLD"`), as
 * plain values. The document client leaves it in DynamoDB's wire form ({ S: "sending" }), unlike
 * every other item it returns (aws/aws-sdk-js-v3#6723), so it is unmarshalled here.
 */
export function conditionalFailureItem(error: unknown): Record<string, unknown> | undefined {
  if (!isConditionalFailure(error)) return undefined;
  const item = (error as { Item?: Record<string, AttributeValue> }).Item;
  return item ? unmarshall(item) : undefined;
}

/** The per-item codes of a cancelled transaction (`ConditionalCheckFailed`, `None`, …). */
export function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if ((error as Error | undefined)?.name !== "TransactionCanceledException") return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return reasons?.map((r) => r.Code);
}

/** A transaction refused because one of its conditions did not hold. */
export function isCancelledByCondition(error: unknown): boolean {
  return cancellationCodes(error)?.includes("ConditionalCheckFailed") ?? false;
}

/**
 * A transaction that collided with another on one of its items: DynamoDB refuses it rather than
 * queueing it, so the caller backs off and tries again.
 */
export function isTransactionConflict(error: unknown): boolean {
  return (
    (error as Error | undefined)?.name === "TransactionConflictException" ||
    (cancellationCodes(error)?.includes("TransactionConflict") ?? false)
  );
}

/**
 * A write to a multi-Region strongly consistent table that collided with a write to the same item
 * from another region: one of them is refused. For a conditional claim it means another region
 * got there first; the caller reads the item again.
 */
export function isReplicatedWriteConflict(error: unknown): boolean {
  return (error as Error | undefined)?.name === "ReplicatedWriteConflictException";
}
