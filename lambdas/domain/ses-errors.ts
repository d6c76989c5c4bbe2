/**
 * SES error classes (ARCHITECTURE §4), from the SESv2 SendEmail error list:
 * https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors
 *
 * - throttled:   the region is healthy but over its rate: slow down and retry there.
 * - region:      the region refused or could not be reached, so nothing was sent (a connection
 *                refused or never made, an identity not verified there): fail over.
 * - unknown:     the request may have reached SES and been sent (a 5xx, a timeout or a reset after
 *                the request went out, an error nobody knows): fail over too, but it is a possible
 *                duplicate, counted and logged.
 * - enforcement: SES has paused or suspended sending for the account (SendingPaused,
 *                AccountSuspended): another region would only spread the problem. Do not fail over;
 *                the campaign is paused with that reason and an alarm goes off.
 * - permanent:   this message will never be accepted (rejected content, invalid address): record
 *                the recipient `failed` and do not retry.
 */
export type SesErrorClass = "throttled" | "region" | "unknown" | "enforcement" | "permanent";

const THROTTLED = new Set(["TooManyRequestsException", "Throttling", "ThrottlingException"]);
const PERMANENT = new Set(["MessageRejected", "BadRequestException", "InvalidParameterValue"]);
const ENFORCEMENT = new Set(["SendingPausedException", "AccountSuspendedException"]);
/** Answers SES gives before doing anything: the request was refused, nothing was sent. */
const REFUSED = new Set([
  "MailFromDomainNotVerifiedException",
  "NotFoundException",
  "LimitExceededException",
]);
/** Failures to reach SES at all: the request never left this machine. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

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
  if (ENFORCEMENT.has(name)) return "enforcement";
  // SES answers MessageRejected "Email address is not verified" when the identity is not verified
  // in this region: the region cannot send for anyone, so it is the region's problem.
  if (name === "MessageRejected" && /not verified/i.test(e.message ?? "")) return "region";
  if (PERMANENT.has(name)) return "permanent";
  if (REFUSED.has(name)) return "region";
  if (NOT_CONNECTED.has(e.code ?? "") || /without establishing a connection/i.test(e.message ?? "")) {
    return "region";
  }
  // 5xx, timeouts and resets after the request went out, anything unrecognised: SES may have sent it.
  return "unknown";
}
