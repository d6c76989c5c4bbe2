/**
 * Errors the API maps to HTTP responses. Domain code throws these; the handler edge turns them into
 * `{ "error": { "code", "message" } }` bodies. Messages are written for clients: they never carry
 * stack traces or raw exceptions.
 */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

export class ApiError extends Error {
  override readonly name: string = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: readonly ErrorDetail[],
  ) {
    super(message);
  }
}

export class ValidationError extends ApiError {
  override readonly name = "ValidationError";
  constructor(message: string, details?: readonly ErrorDetail[]) {
    super(400, "validation_failed", message, details);
  }
}

export class NotFoundError extends ApiError {
  override readonly name = "NotFoundError";
  constructor(what: string) {
    super(404, "not_found", `${what} not found`);
  }
}

export class ConflictError extends ApiError {
  override readonly name = "ConflictError";
  constructor(message: string) {
    super(409, "conflict", message);
  }
}

export class UnauthorizedError extends ApiError {
  override readonly name = "UnauthorizedError";
  constructor(message = "missing or unknown API key") {
    super(401, "unauthorized", message);
  }
}

export class ForbiddenError extends ApiError {
  override readonly name = "ForbiddenError";
  constructor(message: string) {
    super(403, "forbidden", message);
  }
}
