import { describe, expect, it } from "vitest";
import {
  expectGlobalTables,
  expectReplicatedSecret,
  expectSameShape,
  expectScopedSesPermissions,
  expectSesRegions,
} from "./invariants.ts";
import { synthesize } from "./support.ts";

// Three regions, given the way `cdk synth -c regions=...` passes them: as one comma-separated string.
// Bundling is skipped: these assertions are about topology, not code.
const REGIONS = ["us-east-1", "us-west-2", "eu-west-1"];
const synth = synthesize({ regions: REGIONS.join(",") }, { bundle: false });

describe("three-region deployment", () => {
  it("creates one region stack per region", () => {
    expect(synth.config.regions).toEqual(REGIONS);
    expect([...synth.regionTemplates.keys()]).toEqual(REGIONS);
  });

  it("replicates both global tables to every region", () => {
    expectGlobalTables(synth.dataTemplate, REGIONS);
  });

  it("replicates the admin API key secret to both non-primary regions", () => {
    expectReplicatedSecret(synth.dataTemplate, "us-east-1", REGIONS);
  });

  it("gives every region stack the same shape", () => {
    expectSameShape(synth.regionTemplates);
  });

  it.each(REGIONS)("%s: sender may send through every region, its own first", (region) => {
    const template = synth.regionTemplates.get(region);
    if (template === undefined) throw new Error(`no stack for ${region}`);
    expectScopedSesPermissions(template, REGIONS);
    expectSesRegions(template, region, REGIONS);
  });
});

describe("a different primary region", () => {
  const other = synthesize({ primaryRegion: "us-west-2", alarmEmail: "ops@example.com" }, { bundle: false });

  it("moves the data stack and keeps a replica in the former primary", () => {
    expect(other.data.region).toBe("us-west-2");
    expectGlobalTables(other.dataTemplate, ["us-east-1", "us-west-2"]);
    expectReplicatedSecret(other.dataTemplate, "us-west-2", ["us-east-1", "us-west-2"]);
  });

  it("subscribes alarmEmail to every region's alarm topic", () => {
    for (const [region, template] of other.regionTemplates) {
      template.resourceCountIs("AWS::SNS::Subscription", 1);
      template.hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: "ops@example.com",
      });
      expect(region).toMatch(/^us-/);
    }
  });
});
