/**
 * SES error classes (ARCHITECTURE §4), from the SESv2 SendEmail error list:
 * https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors
 *
 * - throttled: the region is healthy but over its rate: slow down and retry there.
 * - region:    the region cannot send right now (5xx, timeouts, connection errors, paused or
 *              suspended account, identity not verified there): fail over to another region.
 * - permanent: this message will never be accepted (rejected content, invalid address): record
 *              the recipient `failed` and do not retry.
 */
export type SesErrorClass = "throttled" | "region" | "permanent";

const THROTTLED = new Set(["TooManyRequestsException", "Throttling", "ThrottlingException"]);
const PERMANENT = new Set(["MessageRejected", "BadRequestException", "InvalidParameterValue"]);
const REGION = new Set([
  "SendingPausedException",
  "AccountSuspendedException",
  "MailFromDomainNotVerifiedException",
  "NotFoundException",
  "LimitExceededException",
  "InternalFailure",
  "ServiceUnavailable",
  "InternalServiceError",
]);

interface ErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

export function classifySesError(error: unknown): SesErrorClass {
  const e = (error ?? {}) as ErrorLike;
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLED.has(name) || status === 429) return "throttled";
  // SES answers MessageRejected "Email address is not verified" when the identity is not verified
  // in this region: the region cannot send for anyone, so it is the region's problem.
  if (name === "MessageRejected" && /not verified/i.test(e.message ?? "")) return "region";
  if (PERMANENT.has(name)) return "permanent";
  if (REGION.has(name)) return "region";
  // Anything else, including 5xx without a known name, timeouts and connection errors (which have
  // no HTTP status at all), is a problem of the region, not of the message.
  return "region";
}
