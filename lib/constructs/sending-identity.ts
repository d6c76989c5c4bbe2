import { ArnFormat, Stack, Token } from "aws-cdk-lib";
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
    this.emailIdentity = new ses.EmailIdentity(this, "EmailIdentity", {
      identity: ses.Identity.domain(props.domain),
      configurationSet: this.configurationSet,
    });
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
