import { Duration, Stack } from "aws-cdk-lib";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as targets from "aws-cdk-lib/aws-route53-targets";
import { Construct } from "constructs";

interface ApiDomain {
  /** The shared name clients and mailed links use, e.g. api.example.com. */
  readonly name: string;
  readonly hostedZoneId: string;
  readonly zoneName: string;
}

export interface PublicHostnameProps {
  readonly appName: string;
  readonly domain: ApiDomain;
  readonly httpApi: apigwv2.IHttpApi;
  readonly stage: apigwv2.IHttpStage;
}

/** A region's own name under the shared one: `<region>.<name>`. */
export const regionalName = (domain: ApiDomain, region: string): string => `${region}.${domain.name}`;

/** A Route 53 HTTPS check of `GET https://<fqdn>/health`, failing after 3 failed requests in a row. */
export function healthCheckOn(
  scope: Construct,
  id: string,
  fqdn: string,
  requestInterval: Duration,
): route53.HealthCheck {
  return new route53.HealthCheck(scope, id, {
    type: route53.HealthCheckType.HTTPS,
    fqdn,
    resourcePath: "/health",
    port: 443,
    requestInterval,
    failureThreshold: 3,
  });
}

/**
 * One public hostname for the whole deployment, with health-based failover: in each region, an ACM
 * certificate and API Gateway custom domains for the shared name and the region's own name, an
 * alias record for the region's name, a Route 53 health check on its deep `GET /health`, and this
 * region's latency record for the shared name, tied to that health check: Route 53 answers with the
 * nearest healthy region. Unsubscribe links name the shared name, so a link mailed last month works
 * when the region that sent it is down or its API was recreated.
 */
export class PublicHostname extends Construct {
  /** https://<shared name>: what mailed URLs name. */
  public readonly url: string;
  /** https://<region>.<shared name>. */
  public readonly regionalUrl: string;
  /** What the shared name's record for this region is tied to (alarms: HealthWatchStack). */
  public readonly healthCheck: route53.HealthCheck;

  constructor(scope: Construct, id: string, props: PublicHostnameProps) {
    super(scope, id);
    const { region } = Stack.of(this);
    const { domain } = props;
    const regional = regionalName(domain, region);
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, "Zone", {
      hostedZoneId: domain.hostedZoneId,
      zoneName: domain.zoneName,
    });
    const certificate = new acm.Certificate(this, "Certificate", {
      domainName: domain.name,
      subjectAlternativeNames: [regional],
      validation: acm.CertificateValidation.fromDns(zone),
    });
    const customDomain = (cid: string, domainName: string) => {
      const created = new apigwv2.DomainName(this, cid, { domainName, certificate });
      new apigwv2.ApiMapping(this, `${cid}Mapping`, {
        api: props.httpApi,
        domainName: created,
        stage: props.stage,
      });
      return created;
    };
    const sharedDomain = customDomain("SharedDomain", domain.name);
    const regionalDomain = customDomain("RegionalDomain", regional);
    const alias = (d: apigwv2.DomainName) =>
      route53.RecordTarget.fromAlias(
        new targets.ApiGatewayv2DomainProperties(d.regionalDomainName, d.regionalHostedZoneId),
      );

    new route53.ARecord(this, "RegionalRecord", {
      zone,
      recordName: regional,
      target: alias(regionalDomain),
    });
    this.healthCheck = healthCheckOn(this, "HealthCheck", regional, Duration.seconds(10));
    new route53.ARecord(this, "SharedRecord", {
      zone,
      recordName: domain.name,
      target: alias(sharedDomain),
      region,
      setIdentifier: region,
      healthCheck: this.healthCheck,
    });
    this.url = `https://${domain.name}`;
    this.regionalUrl = `https://${regional}`;
  }
}
