import { describe, expect, it } from "vitest";
import { normalizeEmail } from "../../lambdas/domain/email.ts";

describe("normalizeEmail", () => {
  it("trims and lower-cases the domain only", () => {
    expect(normalizeEmail("  Ana.Lima@Example.COM ")).toEqual({ ok: true, email: "Ana.Lima@example.com" });
  });

  it.each([
    ["", "email is required"],
    ["no-at-sign", "email must look like local@domain"],
    ["a@b", "email has an invalid domain"],
    ["a b@example.com", "email has an invalid local part"],
    ["a@example.com\r\nBcc: x@example.com", "email must not contain CR or LF"],
    [`${"a".repeat(250)}@example.com`, "email is longer than 254 characters"],
    [`${"a".repeat(65)}@example.com`, "email has an invalid local part"],
  ])("rejects %j", (input, error) => {
    expect(normalizeEmail(input)).toEqual({ ok: false, error });
  });

  it("rejects non-strings", () => {
    expect(normalizeEmail(42)).toEqual({ ok: false, error: "email must be a string" });
  });
});
