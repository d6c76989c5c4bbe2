import { describe, expect, it } from "vitest";
import { classifySesError } from "../../lambdas/domain/ses-errors.ts";

const err = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe("classifySesError", () => {
  it.each([
    ["TooManyRequestsException", 429, "throttled"],
    ["SomethingNew", 429, "throttled"],
    ["MessageRejected", 400, "permanent"],
    ["BadRequestException", 400, "permanent"],
    ["SendingPausedException", 400, "enforcement"],
    ["AccountSuspendedException", 400, "enforcement"],
    ["MailFromDomainNotVerifiedException", 400, "region"],
    ["InternalFailure", 500, "unknown"],
    ["ServiceUnavailable", 503, "unknown"],
    ["TimeoutError", undefined, "unknown"],
    ["SomethingNobodyKnows", undefined, "unknown"],
  ])("%s (%s) is %s", (name, status, expected) => {
    expect(classifySesError(err(name, status))).toBe(expected);
  });

  it("treats a connection never made as the region's problem, and a reset after sending as unknown", () => {
    expect(classifySesError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      "region",
    );
    const connectTimeout = Object.assign(
      new Error("Socket timed out without establishing a connection within 3000 ms"),
      { name: "TimeoutError" },
    );
    expect(classifySesError(connectTimeout)).toBe("region");
    expect(classifySesError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(
      "unknown",
    );
  });
});

describe("unverified identity", () => {
  it("is the region's problem, not the recipient's", () => {
    const error = Object.assign(new Error("Email address is not verified. The following identities failed"), {
      name: "MessageRejected",
    });
    expect(classifySesError(error)).toBe("region");
  });
});
