import { ArnFormat, CfnOutput, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as iam from "aws-cdk-lib/aws-iam";
import * as ses from "aws-cdk-lib/aws-ses";
import { Construct } from "constructs";

// SES configuration set names: letters, digits, '-' and '_', at most 64 characters.
// https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_CreateConfigurationSet.html
const CONFIGURATION_SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export interface SendingIdentityProps {
  /** The domain campaigns are sent from; SES verifies it through the DKIM records of the identity. */
  readonly domain: string;
  /** Name of the configuration set. Give it the same name in every region, so a sender can fail over. */
  readonly configurationSetName: string;
  /**
   * Regions holding the same identity and configuration set, which {@link SendingIdentity.grantSend}
   * lets a function send through (SES failover). Must include this stack's region.
   * @default - only this stack's region
   */
  readonly sendRegions?: readonly string[];
  /**
   * The public hosted zone holding `domain`: DKIM, MAIL FROM and (with `writeDmarc`) DMARC records
   * are written there. Without it, every record to create is a stack output.
   * @default - no zone: records as outputs
   */
  readonly dnsZone?: { readonly hostedZoneId: string; readonly zoneName: string };
  /** Whether this region writes the domain's one DMARC record (one region does). @default false */
  readonly writeDmarc?: boolean;
}

/** A DNS record the domain needs for SES, as written or as a stack output. */
interface DnsRecord {
  readonly id: string;
  readonly name: string;
  readonly type: "CNAME" | "MX" | "TXT";
  readonly value: string;
}

/**
 * What campaigns are sent as in this region: the domain identity and the configuration set every
 * email carries (reputation metrics on, TLS required).
 */
export class SendingIdentity extends Construct {
  public readonly configurationSet: ses.ConfigurationSet;
  public readonly emailIdentity: ses.EmailIdentity;
  /** The regions a sender may use, this stack's region first, then the others in the order given. */
  public readonly sendRegions: readonly string[];
  /** This region's custom MAIL FROM domain (bounces return there, SPF aligns with it). */
  public readonly mailFromDomain: string;
  /** Every DNS record the domain needs in this region: written in the zone, or stack outputs. */
  public readonly dnsRecords: readonly DnsRecord[];
  private readonly domain: string;
  private readonly configurationSetName: string;

  constructor(scope: Construct, id: string, props: SendingIdentityProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    const regions = props.sendRegions ?? [region];
    if (!Token.isUnresolved(region) && !regions.includes(region)) {
      throw new Error(
        `SendingIdentity ${this.node.path}: sendRegions [${regions.join(", ")}] must include this stack's region ${region}`,
      );
    }
    if (!CONFIGURATION_SET_NAME.test(props.configurationSetName)) {
      throw new Error(
        `SendingIdentity ${this.node.path}: configurationSetName "${props.configurationSetName}" must be ` +
          "1-64 letters, digits, '-' or '_'",
      );
    }
    this.sendRegions = [region, ...regions.filter((r) => r !== region)];
    this.domain = props.domain;
    this.configurationSetName = props.configurationSetName;

    this.configurationSet = new ses.ConfigurationSet(this, "ConfigurationSet", {
      configurationSetName: props.configurationSetName,
      reputationMetrics: true,
      sendingEnabled: true,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
    });
    // A MAIL FROM domain per region: its MX names the region's SES feedback endpoint, so two
    // regions cannot share one name.
    this.mailFromDomain = `mail-${region}.${props.domain}`;
    this.emailIdentity = new ses.EmailIdentity(this, "EmailIdentity", {
      identity: ses.Identity.domain(props.domain),
      configurationSet: this.configurationSet,
      mailFromDomain: this.mailFromDomain,
      mailFromBehaviorOnMxFailure: ses.MailFromBehaviorOnMxFailure.USE_DEFAULT_VALUE,
    });
    // Deleting the identity would lose its verification and DKIM keys: a new one gets new DKIM
    // tokens, and every DNS record would have to change. It outlives the stack.
    this.emailIdentity.applyRemovalPolicy(RemovalPolicy.RETAIN);

    const records: DnsRecord[] = [
      ...this.emailIdentity.dkimRecords.map((record, i) => ({
        id: `Dkim${i + 1}`,
        name: record.name,
        type: "CNAME" as const,
        value: record.value,
      })),
      {
        id: "MailFromMx",
        name: this.mailFromDomain,
        type: "MX",
        value: `10 feedback-smtp.${region}.amazonses.com`,
      },
      {
        id: "MailFromSpf",
        name: this.mailFromDomain,
        type: "TXT",
        value: '"v=spf1 include:amazonses.com ~all"',
      },
      ...(props.writeDmarc
        ? [
            {
              id: "Dmarc",
              name: `_dmarc.${props.domain}`,
              type: "TXT" as const,
              value: `"v=DMARC1; p=none; rua=mailto:dmarc-reports@${props.domain}"`,
            },
          ]
        : []),
    ];
    this.dnsRecords = records;
    if (props.dnsZone) {
      const { hostedZoneId } = props.dnsZone;
      for (const record of records) {
        new route53.CfnRecordSet(this, `${record.id}Record`, {
          hostedZoneId,
          name: record.name,
          type: record.type,
          resourceRecords: [record.value],
          ttl: "1800",
        });
      }
    } else {
      for (const record of records) {
        new CfnOutput(this, `${record.id}DnsRecord`, {
          value: `${record.name} ${record.type} ${record.value}`,
          description: `Create this DNS record for SES (${record.id}): name, type, value`,
        });
      }
    }
  }

  /**
   * Lets `grantee` send through this identity in every one of {@link sendRegions}. SES v2 SendEmail
   * is authorized against both the identity and the configuration set, so both are listed.
   * https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
   */
  public grantSend(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const arn = (region: string, resource: string, resourceName: string) =>
      stack.formatArn({
        service: "ses",
        region,
        resource,
        resourceName,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ses:SendEmail"],
        resources: this.sendRegions.flatMap((region) => [
          arn(region, "identity", this.domain),
          arn(region, "configuration-set", this.configurationSetName),
        ]),
      }),
    );
    // ses:GetAccount (sending quota and rate) has no resource-level permissions, so it needs "*".
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsimpleemailservicev2.html
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["ses:GetAccount"], resources: ["*"] }),
    );
  }
}
