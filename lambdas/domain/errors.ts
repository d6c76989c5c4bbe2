/**
 * What went wrong, in the domain's own terms. These errors know nothing of HTTP: the API edge
 * (lambdas/api/http-errors.ts) decides which status and code each one becomes. Messages are
 * written for clients: they never carry stack traces or raw exceptions.
 */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/** Input that breaks a rule; `details` names each offending field. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    message: string,
    readonly details?: readonly ErrorDetail[],
  ) {
    super(message);
  }
}

/** The thing asked for does not exist (`what` names it: "list", "campaign", ...). */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  constructor(readonly what: string) {
    super(`${what} not found`);
  }
}

/** The request does not fit the current state of the resource. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  constructor(message: string) {
    super(message);
  }
}
