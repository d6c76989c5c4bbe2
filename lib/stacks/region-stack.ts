import { fileURLToPath } from "node:url";
import type { StackProps } from "aws-cdk-lib";
import {
  Annotations,
  CfnOutput,
  CrossStackReferences,
  Duration,
  ReferenceStrength,
  Stack,
} from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as logs from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { SteadfastConfig } from "../config.ts";
import { OWNER_LEASE_SECONDS } from "../coordination.ts";
import { AlarmTopic } from "../constructs/alarm-topic.ts";
import { AudienceJobs } from "../constructs/audience-jobs.ts";
import { Webhooks } from "../constructs/webhooks.ts";
import { Fanout } from "../constructs/fanout.ts";
import { FeedbackPipeline } from "../constructs/feedback-pipeline.ts";
import { IntakeApi } from "../constructs/intake-api.ts";
import { Monitoring } from "../constructs/monitoring.ts";
import { PublicHostname } from "../constructs/public-hostname.ts";
import { backupCopyVault } from "../constructs/table-backups.ts";
import { Scheduler } from "../constructs/scheduler.ts";
import { Sender } from "../constructs/sender.ts";
import { SendingIdentity } from "../constructs/sending-identity.ts";
import { adminApiKeySecretName, unsubscribeKeySecretName } from "./data-stack.ts";
import { ENV } from "../../lambdas/contracts/env.ts";

const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The SES configuration set has the same name in every region. */
const configurationSetName = (config: SteadfastConfig): string => config.appName;

export interface RegionStackProps extends StackProps {
  readonly config: SteadfastConfig;
  /** Region this stack serves; must equal the stack's env region. */
  readonly region: string;
  /** This region's replica of the audience table. */
  readonly audienceTable: dynamodb.ITableV2;
  /** This region's replica of the ledger table. */
  readonly ledgerTable: dynamodb.ITableV2;
  /**
   * This region's replica of the coordination table (campaign owners and their leases).
   * @default - none: every campaign is owned by primaryRegion
   */
  readonly coordinationTable?: dynamodb.ITableV2;
}

/**
 * The stateless pipeline of one region: HTTP API → fan-out queue → fan-out function →
 * send queue → sender function → SES, with the scheduler, audience jobs, SES feedback and
 * alarms around it. Every region gets the same shape, so any region can take traffic; state
 * lives in the data stack's global tables.
 */
export class RegionStack extends Stack {
  public readonly identity: SendingIdentity;
  public readonly sender: Sender;
  public readonly fanout: Fanout;
  public readonly audienceJobs: AudienceJobs;
  public readonly webhooks: Webhooks;
  public readonly scheduler: Scheduler;
  public readonly api: IntakeApi;
  public readonly feedback: FeedbackPipeline;
  public readonly alarmTopic: AlarmTopic;
  public readonly monitoring: Monitoring;
  /** The shared hostname's part in this region, with `apiDomain` configured. */
  public readonly hostname: PublicHostname | undefined;
  /** Every alarm of the region that notifies the alarm topic (the monitoring's composites among them). */
  public readonly alarms: readonly cloudwatch.AlarmBase[];

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    // In the primary region the tables are imported through CloudFormation exports. Strong
    // references make CloudFormation refuse to remove a table this stack still uses.
    // (Other regions address their replica by its fixed name: no export involved.)
    CrossStackReferences.of(this).consume(ReferenceStrength.STRONG);
    const { config, region } = props;
    const { appName } = config;
    if (this.region !== region) {
      throw new Error(`RegionStack ${id}: env region ${this.region} does not match region ${region}`);
    }
    const logRetention = config.logRetentionDays as logs.RetentionDays;
    const queueRetention = Duration.days(config.queueRetentionDays);
    const code = { projectRoot: PROJECT_ROOT, logRetention };
    const tables = { audienceTable: props.audienceTable, ledgerTable: props.ledgerTable };
    // Each region reads its local replica of the secrets, which have the same names everywhere.
    const unsubscribeKey = Secret.fromSecretNameV2(this, "UnsubscribeKey", unsubscribeKeySecretName(appName));

    // Same configuration set name in every region, so the sender can fail over between regions.
    this.identity = new SendingIdentity(this, "Ses", {
      domain: config.senderDomain,
      configurationSetName: configurationSetName(config),
      sendRegions: config.regions,
      ...(config.senderDnsZone ? { dnsZone: config.senderDnsZone } : {}),
      writeDmarc: region === config.primaryRegion,
    });
    // Ids "Send", "Fanout", "AudienceJobs": queue logical ids (so alarm names) start with SendQueue,
    // FanoutQueue, AudienceJobsQueue, as the README's alarm table says and the chaos harness looks for.
    this.sender = new Sender(this, "Send", {
      ...code,
      identity: this.identity,
      ...tables,
      unsubscribeKey,
      ledgerRetentionDays: config.ledgerRetentionDays,
      maxSendRate: config.maxSendRate,
      sendMode: config.sendMode,
      concurrency: config.senderConcurrency,
      queueRetention,
      alarmPrefix: `${appName}-${region}`,
    });
    this.fanout = new Fanout(this, "Fanout", {
      ...code,
      ...tables,
      sendQueue: this.sender.queue,
      ledgerRetentionDays: config.ledgerRetentionDays,
      queueRetention,
    });
    this.audienceJobs = new AudienceJobs(this, "AudienceJobs", {
      ...code,
      audienceTable: props.audienceTable,
      ledgerTable: props.ledgerTable,
      fanoutQueue: this.fanout.queue,
      defaultFromAddress: config.fromAddress,
      queueRetention,
    });
    const queues = {
      fanoutQueue: this.fanout.queue,
      sendQueue: this.sender.queue,
      audienceJobsQueue: this.audienceJobs.queue,
    };
    this.scheduler = new Scheduler(this, "Scheduler", {
      ...code,
      appName,
      ...tables,
      ...queues,
      fanoutLease: this.fanout.lease,
    });
    this.api = new IntakeApi(this, "Api", {
      ...code,
      appName,
      ...tables,
      adminApiKey: Secret.fromSecretNameV2(this, "AdminApiKey", adminApiKeySecretName(appName)),
      unsubscribeKey,
      senderDomain: config.senderDomain,
      defaultFromAddress: config.fromAddress,
      ...queues,
      throttle: config.apiThrottle,
    });
    // Unsubscribe links name the shared hostname when there is one, else this region's API.
    this.hostname = config.apiDomain
      ? new PublicHostname(this, "Hostname", {
          appName,
          domain: config.apiDomain,
          httpApi: this.api.httpApi,
          stage: this.api.stage,
        })
      : undefined;
    if (this.hostname) {
      new CfnOutput(this, "SharedApiUrl", {
        value: this.hostname.url,
        description: "The API's shared hostname",
      });
      new CfnOutput(this, "RegionalApiUrl", {
        value: this.hostname.regionalUrl,
        description: "This region's own name",
      });
    } else {
      Annotations.of(this).addWarningV2(
        "steadfast:no-api-domain",
        "No apiDomain configured: unsubscribe links name this region's stage URL, which stops working while " +
          "the region is down or if its API is recreated. Configure apiDomain for one hostname with failover.",
      );
    }
    this.sender.setPublicApiUrl(this.hostname?.url ?? this.api.url);
    new CfnOutput(this, "ApiUrl", { value: this.api.url, description: "Base URL of the HTTP API" });

    this.feedback = new FeedbackPipeline(this, "Feedback", {
      configurationSet: this.identity.configurationSet,
      ...tables,
      ...code,
      queueRetention,
      alarmPrefix: `${appName}-${region}`,
    });

    // Webhooks: the sender and the feedback function publish recipient events, every function that
    // changes a campaign's status its status changes, and the API replays.
    this.webhooks = new Webhooks(this, "Webhooks", {
      ...code,
      audienceTable: props.audienceTable,
      queueRetention,
      alarmPrefix: `${appName}-${region}`,
    });
    for (const producer of [
      this.sender,
      this.feedback,
      this.api,
      this.fanout,
      this.scheduler,
      this.audienceJobs,
    ])
      this.webhooks.bindProducer(producer.function);

    // The functions that act on campaigns; each acts on a campaign only in the campaign's owner region.
    // (The audience-jobs function starts the confirmation campaigns of imports into double opt-in lists.)
    for (const part of [
      this.api,
      this.fanout,
      this.sender,
      this.scheduler,
      this.feedback,
      this.audienceJobs,
    ]) {
      const fn = part.function;
      fn.setEnvironment(ENV.homeRegion, config.primaryRegion);
      fn.setEnvironment(ENV.ownerLeaseSeconds, String(OWNER_LEASE_SECONDS));
      // This region's replica only: a strongly consistent read or write is served by any of them.
      if (props.coordinationTable !== undefined) {
        fn.bindTable(ENV.coordinationTable, props.coordinationTable, "item");
      }
    }
    // The API also forgets the cross-region claim of an Idempotency-Key whose request it refused.
    props.coordinationTable?.grant(this.api.function, "dynamodb:DeleteItem");

    // The data stack's table backups are copied to this vault in the first other region
    // (table-backups.ts); every region has one, so every region stack keeps the same shape and
    // any region can be made the copy region.
    backupCopyVault(this, appName);

    this.alarmTopic = new AlarmTopic(this, "Alarms", {
      displayName: `${appName} alarms (${region})`,
      email: config.alarmEmail,
    });
    new CfnOutput(this, "AlarmTopicArn", {
      value: this.alarmTopic.topic.topicArn,
      description: "The SNS topic every alarm of this region notifies: subscribe a pager or an address to it",
    });
    const parts = [
      this.api,
      this.fanout,
      this.sender,
      this.audienceJobs,
      this.scheduler,
      this.feedback,
      this.webhooks,
    ];
    this.alarmTopic.notify(parts.flatMap((part) => part.alarms));

    this.monitoring = new Monitoring(this, "Monitoring", {
      appName,
      regions: config.regions,
      api: this.api,
      functions: {
        api: this.api.function,
        fanout: this.fanout.function,
        sender: this.sender.function,
        scheduler: this.scheduler.function,
        feedback: this.feedback.function,
        "audience-jobs": this.audienceJobs.function,
        webhooks: this.webhooks.function,
      },
      queues: {
        fanout: this.fanout.queue,
        send: this.sender.queue,
        "audience-jobs": this.audienceJobs.queue,
        feedback: this.feedback.queue,
        webhooks: this.webhooks.queue,
      },
      tables: [props.audienceTable, props.ledgerTable],
      scheduler: this.scheduler.function,
      uptimeUrls: [this.api.url, ...(this.hostname ? [this.hostname.url, this.hostname.regionalUrl] : [])],
    });
    this.alarmTopic.notify(this.monitoring.composites);
    this.alarms = this.alarmTopic.alarms;
  }
}
