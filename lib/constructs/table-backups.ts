import { ArnFormat, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as backup from "aws-cdk-lib/aws-backup";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import { Construct } from "constructs";
import { acknowledge } from "../nag.ts";

/** How long a daily backup (and its copy) is kept. */
const BACKUP_RETENTION = Duration.days(35);

/** The vault, in the copy region, that receives each backup's copy (created by that region's stack). */
const backupCopyVaultName = (appName: string): string => `${appName}-backup-copies`;

/** The region backups are copied to: the first configured region other than the primary one. */
export const backupCopyRegion = (regions: readonly string[], primaryRegion: string): string | undefined =>
  regions.find((region) => region !== primaryRegion);

/** The copy vault, in the stack of the copy region; retained like the backups it holds. */
export function backupCopyVault(scope: Construct, appName: string): backup.BackupVault {
  return new backup.BackupVault(scope, "BackupCopies", {
    backupVaultName: backupCopyVaultName(appName),
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

export interface TableBackupsProps {
  readonly appName: string;
  readonly tables: readonly dynamodb.ITableV2[];
  /**
   * The region each backup is copied to, whose stack holds the copy vault
   * ({@link backupCopyVaultName}).
   * @default - no copy (one region only)
   */
  readonly copyRegion?: string;
}

/**
 * Daily AWS Backup of the tables, kept 35 days, each copied to a vault in a second region, beside
 * the point-in-time recovery the tables have (35 days, to the second, in every replica). A backup
 * restores into a new table: see docs/runbook.md#restore-a-table.
 */
export class TableBackups extends Construct {
  public readonly vault: backup.BackupVault;
  public readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: TableBackupsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.vault = new backup.BackupVault(this, "Vault", {
      backupVaultName: `${props.appName}-backups`,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const copyActions =
      props.copyRegion === undefined
        ? []
        : [
            {
              destinationBackupVault: backup.BackupVault.fromBackupVaultArn(
                this,
                "CopyVault",
                stack.formatArn({
                  service: "backup",
                  region: props.copyRegion,
                  resource: "backup-vault",
                  resourceName: backupCopyVaultName(props.appName),
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ),
              deleteAfter: BACKUP_RETENTION,
            },
          ];
    this.plan = new backup.BackupPlan(this, "Plan", {
      backupPlanName: `${props.appName}-tables`,
      backupVault: this.vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: "daily",
          scheduleExpression: events.Schedule.cron({ minute: "0", hour: "5" }),
          startWindow: Duration.hours(1),
          completionWindow: Duration.hours(8),
          deleteAfter: BACKUP_RETENTION,
          copyActions,
        }),
      ],
    });
    const selection = this.plan.addSelection("Tables", {
      resources: props.tables.map((table) => backup.BackupResource.fromArn(table.tableArn)),
      allowRestores: true,
    });
    acknowledge(selection, {
      "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]":
        "AWS Backup's own service role policy for taking backups, kept current by AWS",
      "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]":
        "AWS Backup's own service role policy for restores, kept current by AWS",
    });
  }
}
