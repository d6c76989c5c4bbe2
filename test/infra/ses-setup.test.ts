import { describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config.ts";
import { props, resources, shippedContext, synthesize } from "./support.ts";

const zone = { hostedZoneId: "Z0123456789ABCDEFGHIJ", zoneName: "example.com" };
const outputs = (template: { toJSON(): unknown }) =>
  (template.toJSON() as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {};

describe("SES set-up as code", () => {
  const shipped = synthesize({}, { bundle: false });
  const withZone = synthesize({ senderDnsZone: zone }, { bundle: false });

  it.each([...shipped.regionTemplates])(
    "%s: keeps the identity when the stack goes, with a MAIL FROM domain of its own",
    (region, template) => {
      const [[, identity] = ["", { Type: "none" }]] = resources(template, "AWS::SES::EmailIdentity");
      expect([identity.DeletionPolicy, identity.UpdateReplacePolicy]).toEqual(["Retain", "Retain"]);
      expect(props<{ MailFromAttributes: unknown }>(identity).MailFromAttributes).toEqual({
        MailFromDomain: `mail-${region}.${shipped.config.senderDomain}`,
        BehaviorOnMxFailure: "USE_DEFAULT_VALUE",
      });
    },
  );

  it("without a zone, lists every record to create as stack outputs: DKIM and MAIL FROM per region, DMARC once", () => {
    for (const [region, template] of shipped.regionTemplates) {
      expect(resources(template, "AWS::Route53::RecordSet")).toEqual([]);
      const dns = Object.entries(outputs(template)).filter(([id]) => id.includes("DnsRecord"));
      const kinds = dns
        .map(([id]) => id.replace(/^.*?(Dkim\d|MailFromMx|MailFromSpf|Dmarc)DnsRecord.*$/, "$1"))
        .sort();
      const primary = region === shipped.config.primaryRegion;
      expect(kinds).toEqual(
        [...(primary ? ["Dmarc"] : []), "Dkim1", "Dkim2", "Dkim3", "MailFromMx", "MailFromSpf"].sort(),
      );
      const mx = dns.find(([id]) => id.includes("MailFromMx"));
      expect(JSON.stringify(mx?.[1].Value)).toContain(`feedback-smtp.${region}.amazonses.com`);
    }
  });

  it("with a zone, writes those records in it and outputs none", () => {
    for (const [region, template] of withZone.regionTemplates) {
      const records = resources(template, "AWS::Route53::RecordSet").map(([, r]) =>
        props<{ HostedZoneId: string; Type: string; Name: unknown; ResourceRecords: unknown[] }>(r),
      );
      const primary = region === withZone.config.primaryRegion;
      expect(records.map((r) => r.Type).sort()).toEqual(
        ["CNAME", "CNAME", "CNAME", "MX", "TXT", ...(primary ? ["TXT"] : [])].sort(),
      );
      expect(new Set(records.map((r) => r.HostedZoneId))).toEqual(new Set([zone.hostedZoneId]));
      const txt = records.filter((r) => r.Type === "TXT").map((r) => JSON.stringify(r.ResourceRecords));
      expect(txt.some((t) => t.includes("v=spf1 include:amazonses.com"))).toBe(true);
      if (primary) expect(txt.some((t) => t.includes("v=DMARC1"))).toBe(true);
      expect(Object.keys(outputs(template)).filter((id) => id.includes("DnsRecord"))).toEqual([]);
    }
  });

  it("refuses a zone that does not hold the sender domain", () => {
    expect(() =>
      parseConfig({
        ...(shippedContext().steadfast as object),
        senderDnsZone: { ...zone, zoneName: "other.org" },
      }),
    ).toThrow(/senderDnsZone.*must be senderDomain/);
  });
});
