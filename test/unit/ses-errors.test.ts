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
    ["SendingPausedException", 400, "region"],
    ["AccountSuspendedException", 400, "region"],
    ["MailFromDomainNotVerifiedException", 400, "region"],
    ["InternalFailure", 500, "region"],
    ["TimeoutError", undefined, "region"],
  ])("%s (%s) is %s", (name, status, expected) => {
    expect(classifySesError(err(name, status))).toBe(expected);
  });

  it("treats connection errors as the region's problem", () => {
    expect(classifySesError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      "region",
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
