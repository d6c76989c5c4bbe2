import { describe, expect, it } from "vitest";
import { parseCsv } from "../../lambdas/domain/csv.ts";

describe("parseCsv (RFC 4180)", () => {
  it("reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF", () => {
    const result = parseCsv('email,note\r\na@example.com,"Hello, ""you"""\nb@example.com,"two\nlines"\n');
    expect(result).toEqual({
      ok: true,
      rows: [
        ["email", "note"],
        ["a@example.com", 'Hello, "you"'],
        ["b@example.com", "two\nlines"],
      ],
    });
  });

  it("keeps empty fields, skips blank lines and reads a last line without a line end", () => {
    expect(parseCsv("a,,c\n\n1,2,3")).toEqual({
      ok: true,
      rows: [
        ["a", "", "c"],
        ["1", "2", "3"],
      ],
    });
  });

  it("refuses an unclosed quote or a quote in the middle of a field, naming the line", () => {
    expect(parseCsv('email\n"a@example.com\n')).toMatchObject({
      ok: false,
      error: "a quoted field is not closed",
    });
    expect(parseCsv('email\nab"c\n')).toEqual({
      ok: false,
      error: "a quote inside an unquoted field",
      line: 2,
    });
    expect(parseCsv('email\n"ab"c\n')).toMatchObject({ ok: false, line: 2 });
  });
});
