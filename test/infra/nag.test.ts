import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../lib/app.ts";
import { shippedContext } from "./support.ts";

/**
 * cdk-nag's AwsSolutions and Serverless packs over the whole app: synthesis fails on any finding
 * that is not fixed or acknowledged, with its reason, in the construct that causes it (lib/nag.ts).
 */
describe.each([
  ["the shipped configuration", {}],
  [
    "three regions, DNS zones for mail and the API, and an alarm address",
    {
      apiDomain: { name: "api.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ", zoneName: "example.com" },
      regions: "us-east-1,us-west-2,us-east-2",
      senderDnsZone: { hostedZoneId: "Z0123456789ABCDEFGHIJ", zoneName: "example.com" },
      alarmEmail: "ops@example.com",
    },
  ],
  ["no coordination table", { coordination: "none" }],
])("cdk-nag: %s", (_, overrides) => {
  it("has no finding that is neither fixed nor acknowledged", () => {
    const app = new App({
      context: { ...shippedContext(), ...overrides, "aws:cdk:bundling-stacks": [] },
      outdir: mkdtempSync(join(tmpdir(), "nag-")),
    });
    buildApp(app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
