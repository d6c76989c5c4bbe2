import { describe, expect, it } from "vitest";
import { escapeHtml, htmlToText, renderTemplate, unknownTags } from "../../lambdas/domain/render.ts";

const ctx = {
  email: "ana@example.com",
  attributes: { firstName: "Ana", plan: "<b>pro</b>", visits: 3, vip: true },
};

describe("merge tags", () => {
  it("fills email and attributes, escaping values in HTML only", () => {
    const template =
      "{{email}} {{attributes.firstName}} {{ attributes.plan }} {{attributes.visits}} {{attributes.vip}}";
    expect(renderTemplate(template, ctx, "html")).toBe("ana@example.com Ana &lt;b&gt;pro&lt;/b&gt; 3 true");
    expect(renderTemplate(template, ctx, "text")).toBe("ana@example.com Ana <b>pro</b> 3 true");
  });

  it("uses the default when the attribute is missing or empty", () => {
    expect(renderTemplate('Hi {{attributes.nickname | "there"}}', ctx, "text")).toBe("Hi there");
    expect(renderTemplate("Hi {{attributes.nickname}}!", ctx, "text")).toBe("Hi !");
    expect(renderTemplate('Hi {{attributes.firstName | "there"}}', ctx, "text")).toBe("Hi Ana");
  });

  it("never lets a value break a header onto a new line", () => {
    const evil = { email: "a@example.com", attributes: { firstName: "x\r\nBcc: victim@example.com" } };
    expect(renderTemplate("Hello {{attributes.firstName}}", evil, "header")).toBe(
      "Hello x Bcc: victim@example.com",
    );
  });

  it("names the tags it does not know", () => {
    expect(unknownTags("{{email}} {{attributes.a}} {{ unsubscribe }} {{attributes.}} {{foo.bar}}")).toEqual([
      "unsubscribe",
      "attributes.",
      "foo.bar",
    ]);
    expect(unknownTags('{{attributes.firstName | "there"}}')).toEqual([]);
  });

  it("escapes the five HTML-significant characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("derives a readable text part from HTML", () => {
    const html =
      '<h1>News</h1><p>Read <a href="https://example.com/a">this</a> &amp; more</p><style>p{}</style>';
    expect(htmlToText(html)).toBe("News\nRead this (https://example.com/a) & more");
  });
});
