import { Annotations, type App, Tags } from "aws-cdk-lib";
import { loadConfig, type SteadfastConfig } from "./config.ts";
import { DataStack } from "./stacks/data-stack.ts";
import { HealthWatchStack, ROUTE53_METRICS_REGION } from "./stacks/health-watch-stack.ts";
import { RegionStack } from "./stacks/region-stack.ts";

export interface SteadfastApp {
  readonly config: SteadfastConfig;
  readonly data: DataStack;
  readonly regions: readonly RegionStack[];
  /** With `apiDomain`: the alarms on every region's Route 53 health check, in us-east-1. */
  readonly healthWatch: HealthWatchStack | undefined;
}

/**
 * Adds the Steadfast stacks to `app`: the data stack in the primary region, then one
 * identical region stack per configured region.
 */
export function buildApp(app: App): SteadfastApp {
  const config = loadConfig(app);
  const { appName, primaryRegion } = config;
  // Without an account (no credentials, no `account` in config) the stacks stay account-agnostic.
  const envFor = (region: string) => ({ account: config.account ?? process.env.CDK_DEFAULT_ACCOUNT, region });

  const data = new DataStack(app, `${appName}-data`, {
    config,
    env: envFor(primaryRegion),
    description: `${appName}: global tables and secrets (primary region ${primaryRegion})`,
  });
  if (config.regions.length < 2) {
    Annotations.of(data).addWarningV2(
      "steadfast:single-region",
      "Only one region is configured: the pipeline cannot fail over. Configure at least two regions.",
    );
  }

  if (config.regions.length > 1 && data.coordination.kind === "none") {
    Annotations.of(data).addWarningV2(
      "steadfast:no-coordination",
      `No coordination table (${data.coordination.reason}): every campaign is owned by ` +
        `${primaryRegion}; move one to another region with POST /v1/campaigns/{id}/takeover.`,
    );
  }

  const regions = config.regions.map((region) => {
    const stack = new RegionStack(app, `${appName}-${region}`, {
      config,
      region,
      env: envFor(region),
      description: `${appName}: API, queues, functions and SES in ${region}`,
      audienceTable: data.tableIn(region, "audience"),
      ledgerTable: data.tableIn(region, "ledger"),
      coordinationTable: data.coordinationTable?.replica(region),
    });
    // Replicas and the secret must exist before any region's functions use them.
    stack.addStackDependency(data);
    return stack;
  });

  const { apiDomain } = config;
  const healthWatch = apiDomain
    ? new HealthWatchStack(app, `${appName}-health`, {
        config: { ...config, apiDomain },
        env: envFor(ROUTE53_METRICS_REGION),
        description: `${appName}: alarms on the Route 53 health checks of every region's API`,
      })
    : undefined;

  Tags.of(app).add("app", appName);
  return { config, data, regions, healthWatch };
}
