import { describe, expect, it } from "vitest";
import {
  environment,
  policyStatements,
  props,
  refTarget,
  render,
  resources,
  serviceFunction,
  synthesize,
} from "./support.ts";

describe("table backups", () => {
  const synth = synthesize({}, { bundle: false });
  const plans = resources(synth.dataTemplate, "AWS::Backup::BackupPlan");

  it("backs both tables up daily into a retained vault, kept 35 days, copied to a vault in the other region", () => {
    expect(plans).toHaveLength(1);
    const { BackupPlan } = props<{
      BackupPlan: {
        BackupPlanRule: {
          ScheduleExpression: string;
          Lifecycle: { DeleteAfterDays: number };
          CopyActions: { DestinationBackupVaultArn: unknown; Lifecycle: { DeleteAfterDays: number } }[];
        }[];
      };
    }>(plans[0]?.[1] ?? { Type: "none" });
    const [rule] = BackupPlan.BackupPlanRule;
    expect(rule?.ScheduleExpression).toBe("cron(0 5 * * ? *)");
    expect(rule?.Lifecycle.DeleteAfterDays).toBe(35);
    expect(rule?.CopyActions).toHaveLength(1);
    expect(rule?.CopyActions[0]?.Lifecycle.DeleteAfterDays).toBe(35);
    expect(JSON.stringify(rule?.CopyActions[0]?.DestinationBackupVaultArn)).toMatch(
      /:backup:us-west-2:.*:backup-vault:steadfast-backup-copies/,
    );
    for (const [, vault] of resources(synth.dataTemplate, "AWS::Backup::BackupVault"))
      expect(vault.DeletionPolicy).toBe("Retain");
  });

  it("selects exactly the audience and ledger tables, with a role that may back up and restore", () => {
    const [[, selection] = ["", { Type: "none" }]] = resources(
      synth.dataTemplate,
      "AWS::Backup::BackupSelection",
    );
    const { BackupSelection } = props<{ BackupSelection: { Resources: unknown[]; IamRoleArn: unknown } }>(
      selection,
    );
    const tables = BackupSelection.Resources.map((r) => refTarget(r));
    const ids = resources(synth.dataTemplate, "AWS::DynamoDB::GlobalTable")
      .filter(([, t]) => /audience|ledger/.test(JSON.stringify(props(t))))
      .map(([id]) => id);
    expect(tables.sort()).toEqual(ids.sort());
    const role = resources(synth.dataTemplate, "AWS::IAM::Role").find(
      ([id]) => id === refTarget(BackupSelection.IamRoleArn),
    );
    const policies = JSON.stringify(role?.[1].Properties);
    expect(policies).toContain("AWSBackupServiceRolePolicyForBackup");
    expect(policies).toContain("AWSBackupServiceRolePolicyForRestores");
  });

  it("gives every region stack the retained copy vault (us-west-2's receives the copies)", () => {
    for (const [region, template] of synth.regionTemplates) {
      const vaults = resources(template, "AWS::Backup::BackupVault");
      expect(
        vaults.map(([, v]) => [props<{ BackupVaultName: string }>(v).BackupVaultName, v.DeletionPolicy]),
        region,
      ).toEqual([["steadfast-backup-copies", "Retain"]]);
    }
  });

  it("points every region's functions at a restored table named in config, and backs that one up", () => {
    const restored = synthesize(
      { restoredTables: { ledger: "steadfast-ledger-restored" } },
      { bundle: false },
    );
    const tables = resources(restored.dataTemplate, "AWS::DynamoDB::GlobalTable").map(
      ([, t]) => props<{ TableName: string }>(t).TableName,
    );
    // The stack stops managing the old ledger table (it is retained) and creates no new one.
    expect(tables).toContain("steadfast-audience");
    expect(tables).not.toContain("steadfast-ledger");
    const [[, selection] = ["", { Type: "none" }]] = resources(
      restored.dataTemplate,
      "AWS::Backup::BackupSelection",
    );
    expect(JSON.stringify(props(selection))).toContain(":table/steadfast-ledger-restored");
    for (const [region, template] of restored.regionTemplates) {
      const sender = serviceFunction(template, "sender")[1];
      expect(JSON.stringify(environment(sender).LEDGER_TABLE), region).toContain("steadfast-ledger-restored");
      const granted = policyStatements(template).flatMap((st) => st.Resource.map(render));
      expect(granted, region).toContain(
        `arn:\${AWS::Partition}:dynamodb:${region}:\${AWS::AccountId}:table/steadfast-ledger-restored`,
      );
      expect(
        granted.filter((arn) => /table\/steadfast-ledger($|\/)/.test(arn)),
        region,
      ).toEqual([]);
    }
    expect(() => synthesize({ restoredTables: { ledger: "a b" } }, { bundle: false })).toThrow(
      /restoredTables/,
    );
  });
});
