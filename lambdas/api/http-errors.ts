import { ConflictError, type ErrorDetail, NotFoundError, ValidationError } from "../domain/errors.ts";

/**
 * An error with its HTTP face: status, machine-readable code, client-facing message and, for invalid
 * input, the offending fields. Errors only the API can raise (authentication, content negotiation,
 * body limits, routing) are thrown as these directly; domain errors are mapped by `toApiError`.
 */
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

/** The HTTP face of an error the client caused; `undefined` for anything else (a 5xx). */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof ValidationError)
    return new ApiError(400, "validation_failed", error.message, error.details);
  if (error instanceof NotFoundError) return new ApiError(404, "not_found", error.message);
  if (error instanceof ConflictError) return new ApiError(409, "conflict", error.message);
  return undefined;
}

/** `{ "error": { "code", "message", "details"? } }`: the body of every error response. */
export function errorBody(error: ApiError) {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details?.length ? { details: error.details } : {}),
    },
  };
}
