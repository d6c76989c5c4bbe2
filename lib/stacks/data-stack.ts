import { Aws, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { backupCopyRegion, TableBackups } from "../constructs/table-backups.ts";
import type { SteadfastConfig } from "../config.ts";
import { LEDGER_INDEX } from "../../lambdas/contracts/tables.ts";
import { acknowledge } from "../nag.ts";
import { type CoordinationPlan, coordinationPlan } from "../coordination.ts";

export interface DataStackProps extends StackProps {
  readonly config: SteadfastConfig;
}

/**
 * Stateful resources, deployed once in the primary region and replicated to every other
 * region: the audience and ledger global tables, the coordination table when the regions allow one,
 * and the admin API key and unsubscribe signing key secrets.
 * Everything here is retained when the stack is deleted.
 */
export class DataStack extends Stack {
  /** The tables this stack created and manages; a table restored from a backup is not one of them. */
  private readonly managed: { readonly audience?: dynamodb.TableV2; readonly ledger?: dynamodb.TableV2 };
  private readonly restored: NonNullable<SteadfastConfig["restoredTables"]>;
  public readonly adminApiKey: secretsmanager.Secret;
  public readonly unsubscribeKey: secretsmanager.Secret;
  /** Whether there is a coordination table, and why not when there is none. */
  public readonly coordination: CoordinationPlan;
  /** Each campaign's owner region and lease; absent when the plan has no table. */
  public readonly coordinationTable: dynamodb.TableV2 | undefined;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { appName, primaryRegion, regions } = props.config;
    if (this.region !== primaryRegion) {
      throw new Error(`DataStack must be deployed to primaryRegion ${primaryRegion}, not ${this.region}`);
    }
    const replicaRegions = regions.filter((region) => region !== primaryRegion);

    // Global tables (version 2019.11.21): one CloudFormation resource owns every replica.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-globaltable.html
    const common = {
      partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      replicas: replicaRegions.map((region) => ({ region })),
    } satisfies dynamodb.TablePropsV2;

    // A table restored from a backup (config restoredTables) replaces the one created here: the
    // stack stops managing the old table, which is retained (RETAIN), and the functions of every
    // region use the restored one.
    this.restored = props.config.restoredTables ?? {};
    const audienceTable = this.restored.audience
      ? undefined
      : new dynamodb.TableV2(this, "AudienceTable", {
          ...common,
          tableName: `${appName}-audience`,
          // Short-lived items (idempotency records, import jobs) carry `expiresAt` (epoch seconds).
          timeToLiveAttribute: "expiresAt",
        });

    const ledgerTable = this.restored.ledger
      ? undefined
      : new dynamodb.TableV2(this, "LedgerTable", {
          ...common,
          tableName: `${appName}-ledger`,
          // Ledger entries expire after ledgerRetentionDays; the functions write `expiresAt` (epoch seconds).
          timeToLiveAttribute: "expiresAt",
          // Delivery events from SES carry only the SES message id.
          globalSecondaryIndexes: [
            {
              indexName: LEDGER_INDEX.bySesMessageId,
              partitionKey: { name: "sesMessageId", type: dynamodb.AttributeType.STRING },
              projectionType: dynamodb.ProjectionType.ALL,
            },
            // Erasure (GDPR Art. 17) finds a person's items by address; the keys are all it deletes by.
            {
              indexName: LEDGER_INDEX.byRecipient,
              partitionKey: { name: "email", type: dynamodb.AttributeType.STRING },
              projectionType: dynamodb.ProjectionType.KEYS_ONLY,
            },
          ],
        });

    this.managed = { audience: audienceTable, ledger: ledgerTable };
    new TableBackups(this, "Backups", {
      appName,
      tables: [this.tableIn(this.region, "audience"), this.tableIn(this.region, "ledger")],
      copyRegion: backupCopyRegion(regions, primaryRegion),
    });

    this.coordination = coordinationPlan(props.config);
    this.coordinationTable =
      this.coordination.kind === "mrsc"
        ? coordinationTable(this, appName, primaryRegion, this.coordination)
        : undefined;

    // The first admin API key. Replicas keep the same name in every region, so each region's API
    // reads its local copy. https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html
    this.adminApiKey = new secretsmanager.Secret(this, "AdminApiKey", {
      secretName: adminApiKeySecretName(appName),
      description: `First admin API key of ${appName}`,
      generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
      replicaRegions: replicaRegions.map((region) => ({ region })),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.adminApiKey, {
      "AwsSolutions::AwsSolutions-SMG4":
        "A bootstrap credential, rotated by putting a new value (every API re-reads it within a minute: README, API keys); day-to-day access uses scoped API keys, stored hashed and revocable",
    });

    // The key unsubscribe links are signed with (HMAC, see lambdas/domain/link-token.ts).
    // Replicated like the admin key, so a link mailed from one region works in every region.
    // Retained: rotating it would break every link already mailed.
    this.unsubscribeKey = new secretsmanager.Secret(this, "UnsubscribeKey", {
      secretName: unsubscribeKeySecretName(appName),
      description: `Signing key of ${appName} one-click unsubscribe links`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      replicaRegions: replicaRegions.map((region) => ({ region })),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(this.unsubscribeKey, {
      "AwsSolutions::AwsSolutions-SMG4":
        "Rotating it would break the unsubscribe link of every email already mailed, which must keep working",
    });
  }

  /**
   * A table as the functions of `region` use it: its replica there, or the restored table of that
   * name there (config restoredTables), whose replicas the operator created.
   */
  public tableIn(region: string, role: TableRole): dynamodb.ITableV2 {
    const managed = this.managed[role];
    if (managed) return region === this.region ? managed : managed.replica(region);
    const id = `Restored-${role}-${region}`;
    const existing = this.node.tryFindChild(id) as dynamodb.ITableV2 | undefined;
    // Built from pseudo parameters only: a region stack that uses it references nothing of this stack.
    const tableArn = `arn:${Aws.PARTITION}:dynamodb:${region}:${Aws.ACCOUNT_ID}:table/${this.restored[role] ?? ""}`;
    return existing ?? dynamodb.TableV2.fromTableAttributes(this, id, { tableArn });
  }
}

/** The application's two global tables. */
type TableRole = "audience" | "ledger";

/**
 * The coordination table: one item per campaign naming its owner region and the owner's lease.
 * It is a global table in multi-Region strong consistency (MRSC) mode, so every region reads the
 * latest owner and a lease is never granted twice. MRSC, as designed around here:
 * - exactly three replicas, or two replicas and a witness region, all in one MRSC region set
 *   (US: us-east-1, us-east-2, us-west-2; EU: eu-west-1, eu-west-2, eu-west-3, eu-central-1;
 *   AP: ap-northeast-1, ap-northeast-2, ap-northeast-3), see lib/coordination.ts;
 * - the table is created empty in MRSC mode, and its mode can never change afterwards;
 * - no transactions, no TTL and no local secondary indexes: leases expire by their own timestamp,
 *   and every access is a single-item read or conditional write;
 * - writes are slower than on the other tables: one returns only once another region has it too;
 * - when two regions write one item at once, one of the writes fails with
 *   ReplicatedWriteConflictException: a lease write can lose a race it would not lose in one region.
 * Encrypted with the AWS owned key (the default): the items are campaign ids, regions and times, no
 * personal data.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/multi-region-strong-consistency-gt.html
 */
function coordinationTable(
  scope: Construct,
  appName: string,
  primaryRegion: string,
  plan: Extract<CoordinationPlan, { kind: "mrsc" }>,
): dynamodb.TableV2 {
  const table = new dynamodb.TableV2(scope, "CoordinationTable", {
    tableName: `${appName}-coordination`,
    partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
    sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
    billing: dynamodb.Billing.onDemand(),
    multiRegionConsistency: dynamodb.MultiRegionConsistency.STRONG,
    replicas: plan.replicaRegions.filter((region) => region !== primaryRegion).map((region) => ({ region })),
    witnessRegion: plan.witnessRegion,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  // TableV2 gives every table with replicas a stream, which only eventually consistent global tables
  // replicate through; MRSC needs none and nothing reads this table's changes.
  (table.node.defaultChild as dynamodb.CfnGlobalTable).addPropertyDeletionOverride("StreamSpecification");
  return table;
}

/** Name of the unsubscribe link signing key, identical in every region. */
export function unsubscribeKeySecretName(appName: string): string {
  return `${appName}/unsubscribe-key`;
}

/** Name of the admin API key secret, identical in every region. */
export function adminApiKeySecretName(appName: string): string {
  return `${appName}/admin-api-key`;
}
