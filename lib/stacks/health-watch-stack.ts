import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type { Construct } from "constructs";
import { AlarmTopic } from "../constructs/alarm-topic.ts";
import { healthCheckOn, regionalName } from "../constructs/public-hostname.ts";
import { RUNBOOK, withRunbook } from "../runbook.ts";
import type { SteadfastConfig } from "../config.ts";

/** Route 53 publishes health-check metrics in this region only. */
export const ROUTE53_METRICS_REGION = "us-east-1";

export interface HealthWatchStackProps extends StackProps {
  readonly config: SteadfastConfig & { readonly apiDomain: NonNullable<SteadfastConfig["apiDomain"]> };
}

/**
 * Alarms on Route 53 health checks of every region's own name (`<region>.<apiDomain.name>/health`),
 * deployed in us-east-1 whatever the regions, because that is the only region where CloudWatch has
 * Route 53's metrics. Each region stack keeps the health check its latency record is tied to
 * (routing); these are a second set of checks on the same URLs, for alerting, so that no region's
 * stack needs another region's resources. Alarms notify this stack's own topic (and `alarmEmail`).
 */
export class HealthWatchStack extends Stack {
  public readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: HealthWatchStackProps) {
    super(scope, id, props);
    const { appName, apiDomain, regions, alarmEmail } = props.config;
    this.alarms = regions.map((region) => {
      const name = regionalName(apiDomain, region);
      const check = healthCheckOn(this, `Check-${region}`, name, Duration.seconds(30));
      return new cloudwatch.Metric({
        namespace: "AWS/Route53",
        metricName: "HealthCheckStatus",
        dimensionsMap: { HealthCheckId: check.healthCheckId },
        period: Duration.minutes(1),
        statistic: "Minimum",
      }).createAlarm(this, `Alarm-${region}`, {
        alarmName: `${appName}-${region}-route53-health`,
        alarmDescription: withRunbook(
          `Route 53's health check on ${name}/health failed: the shared name no longer sends clients to ${region}`,
          RUNBOOK.uptime,
        ),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    });
    const topic = new AlarmTopic(this, "Alarms", {
      displayName: `${appName} health checks`,
      ...(alarmEmail === undefined ? {} : { email: alarmEmail }),
    });
    topic.notify(this.alarms);
  }
}
