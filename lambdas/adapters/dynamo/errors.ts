/**
 * DynamoDB error checks. Errors are matched by name, not class: a bundle may hold more than one copy
 * of the SDK.
 */

/** A conditional write that did not apply. */
export function isConditionalFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
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
