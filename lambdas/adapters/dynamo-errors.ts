/** A conditional write that did not apply. Matched by name: bundles may hold more than one SDK copy. */
export function isConditionalFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}
