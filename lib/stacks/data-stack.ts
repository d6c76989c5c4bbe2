import { RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { SteadfastConfig } from "../config.ts";

export interface DataStackProps extends StackProps {
  readonly config: SteadfastConfig;
}

/**
 * Stateful resources, deployed once in the primary region and replicated to every other
 * region: the audience and ledger global tables and the admin API key secret.
 * Everything here is retained when the stack is deleted.
 */
export class DataStack extends Stack {
  public readonly audienceTable: dynamodb.TableV2;
  public readonly ledgerTable: dynamodb.TableV2;
  public readonly adminApiKey: secretsmanager.Secret;
  public readonly unsubscribeKey: secretsmanager.Secret;

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

    this.audienceTable = new dynamodb.TableV2(this, "AudienceTable", {
      ...common,
      tableName: `${appName}-audience`,
      // Short-lived items (idempotency records, import jobs) carry `expiresAt` (epoch seconds).
      timeToLiveAttribute: "expiresAt",
    });

    this.ledgerTable = new dynamodb.TableV2(this, "LedgerTable", {
      ...common,
      tableName: `${appName}-ledger`,
      // Ledger entries expire after ledgerRetentionDays; the functions write `expiresAt` (epoch seconds).
      timeToLiveAttribute: "expiresAt",
      // Delivery events from SES carry only the SES message id.
      globalSecondaryIndexes: [
        {
          indexName: "bySesMessageId",
          partitionKey: { name: "sesMessageId", type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.ALL,
        },
        // Erasure (GDPR Art. 17) finds a person's items by address; the keys are all it deletes by.
        {
          indexName: "byRecipient",
          partitionKey: { name: "email", type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.KEYS_ONLY,
        },
      ],
    });

    // The first admin API key. Replicas keep the same name in every region, so each region's API
    // reads its local copy. https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html
    this.adminApiKey = new secretsmanager.Secret(this, "AdminApiKey", {
      secretName: adminApiKeySecretName(appName),
      description: `First admin API key of ${appName}`,
      generateSecretString: { passwordLength: 40, excludePunctuation: true, includeSpace: false },
      replicaRegions: replicaRegions.map((region) => ({ region })),
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The key unsubscribe links are signed with (HMAC, see lambdas/domain/unsubscribe-token.ts).
    // Replicated like the admin key, so a link mailed from one region works in every region.
    // Retained: rotating it would break every link already mailed.
    this.unsubscribeKey = new secretsmanager.Secret(this, "UnsubscribeKey", {
      secretName: unsubscribeKeySecretName(appName),
      description: `Signing key of ${appName} one-click unsubscribe links`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      replicaRegions: replicaRegions.map((region) => ({ region })),
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

/** Name of the unsubscribe link signing key, identical in every region. */
export function unsubscribeKeySecretName(appName: string): string {
  return `${appName}/unsubscribe-key`;
}

/** Name of the admin API key secret, identical in every region. */
export function adminApiKeySecretName(appName: string): string {
  return `${appName}/admin-api-key`;
}
