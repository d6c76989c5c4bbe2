import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config.ts";
import {
  environment,
  props,
  refTarget,
  resources,
  serviceFunction,
  shippedContext,
  single,
  synthesize,
} from "./support.ts";

const apiDomain = { name: "api.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ", zoneName: "example.com" };

describe("one public hostname with health-based failover", () => {
  const synth = synthesize({ apiDomain }, { bundle: false });

  it.each([...synth.regionTemplates])(
    "%s: a certificate, both names mapped to the stage, and the region's records",
    (region, template) => {
      const [[, certificate] = ["", { Type: "none" }]] = resources(
        template,
        "AWS::CertificateManager::Certificate",
      );
      expect(props(certificate)).toMatchObject({
        DomainName: "api.example.com",
        SubjectAlternativeNames: [`${region}.api.example.com`],
        ValidationMethod: "DNS",
      });
      const names = resources(template, "AWS::ApiGatewayV2::DomainName").map(
        ([, d]) => props<{ DomainName: string }>(d).DomainName,
      );
      expect(names.sort()).toEqual(["api.example.com", `${region}.api.example.com`].sort());
      expect(resources(template, "AWS::ApiGatewayV2::ApiMapping")).toHaveLength(2);

      const [[healthId, health] = ["", { Type: "none" }]] = resources(template, "AWS::Route53::HealthCheck");
      expect(props(health)).toMatchObject({
        HealthCheckConfig: {
          Type: "HTTPS",
          FullyQualifiedDomainName: `${region}.api.example.com`,
          ResourcePath: "/health",
          Port: 443,
          FailureThreshold: 3,
        },
      });
      const records = resources(template, "AWS::Route53::RecordSet").map(([, r]) =>
        props<{
          Name: string;
          Region?: string;
          SetIdentifier?: string;
          HealthCheckId?: unknown;
          HostedZoneId: string;
        }>(r),
      );
      const shared = records.find((r) => r.Name === "api.example.com.");
      expect(shared).toMatchObject({
        Region: region,
        SetIdentifier: region,
        HostedZoneId: apiDomain.hostedZoneId,
      });
      expect(refTarget(shared?.HealthCheckId)).toBe(healthId);
      expect(records.some((r) => r.Name === `${region}.api.example.com.`)).toBe(true);
    },
  );

  it.each([...synth.regionTemplates])(
    "%s: mails links that name the shared hostname, and the canary calls every name",
    (_, template) => {
      const [, sender] = serviceFunction(template, "sender");
      expect(environment(sender).PUBLIC_API_URL).toBe("https://api.example.com");
      const [[, canary] = ["", { Type: "none" }]] = resources(template, "AWS::Synthetics::Canary");
      const urls = JSON.stringify(props<{ RunConfig: unknown }>(canary).RunConfig);
      expect(urls).toContain("https://api.example.com");
      expect(urls).toMatch(/https:\/\/us-[a-z]+-\d\.api\.example\.com/);
    },
  );

  it("alarms on every region's health check from us-east-1, where Route 53 publishes their metrics", () => {
    for (const [region, template] of synth.regionTemplates) {
      const alarms = resources(template, "AWS::CloudWatch::Alarm").filter(
        ([, a]) => props<{ Namespace?: string }>(a).Namespace === "AWS/Route53",
      );
      expect(alarms, region).toEqual([]);
    }
    const stack = synth.healthWatch;
    if (stack === undefined) throw new Error("no health-watch stack with apiDomain");
    expect(stack.region).toBe("us-east-1");
    const template = Template.fromStack(stack);
    const checks = new Map(
      resources(template, "AWS::Route53::HealthCheck").map(([id, c]) => [
        id,
        props<{ HealthCheckConfig: { FullyQualifiedDomainName: string; ResourcePath: string } }>(c)
          .HealthCheckConfig,
      ]),
    );
    const [topicId] = single(resources(template, "AWS::SNS::Topic"), "topic");
    const watched = resources(template, "AWS::CloudWatch::Alarm").map(([, a]) => {
      const p = props<{
        Namespace: string;
        Dimensions: { Name: string; Value: unknown }[];
        AlarmActions: unknown[];
      }>(a);
      expect(p.Namespace).toBe("AWS/Route53");
      expect(p.AlarmActions.map(refTarget)).toEqual([topicId]);
      const check = checks.get(refTarget(p.Dimensions[0]?.Value) ?? "");
      return `${check?.FullyQualifiedDomainName}${check?.ResourcePath}`;
    });
    expect(watched.sort()).toEqual(
      [...synth.regionTemplates.keys()].map((r) => `${r}.api.example.com/health`).sort(),
    );
    expect(synthesize({}, { bundle: false }).healthWatch).toBeUndefined();
  });

  it("without apiDomain, warns at synth and mails links to the region's own stage", () => {
    const plain = synthesize({}, { bundle: false });
    for (const stack of plain.regions)
      Annotations.fromStack(stack).hasWarning("*", Match.stringLikeRegexp("No apiDomain configured"));
    for (const [, template] of plain.regionTemplates) {
      expect(resources(template, "AWS::Route53::HealthCheck")).toEqual([]);
      const [, sender] = serviceFunction(template, "sender");
      expect(JSON.stringify(environment(sender).PUBLIC_API_URL)).toContain("execute-api");
    }
  });

  it("refuses a name outside its zone", () => {
    expect(() =>
      parseConfig({
        ...(shippedContext().steadfast as object),
        apiDomain: { ...apiDomain, name: "api.other.org" },
      }),
    ).toThrow(/apiDomain.*must be in the zone/);
  });
});
