import { Annotations, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import * as sns from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import { acknowledge } from "../nag.ts";

export interface AlarmTopicProps {
  /** Display name of the topic (the sender name of alarm emails). */
  readonly displayName: string;
  /**
   * Address subscribed to the topic; AWS asks it to confirm the subscription.
   * @default - no subscription: subscribe to the topic out of band
   */
  readonly email?: string;
}

/**
 * The SNS topic every alarm of a region notifies, both when it fires and when it recovers.
 *
 * Not encrypted: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key.
 * https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  private readonly action: SnsAction;
  private readonly notified = new Set<cloudwatch.AlarmBase>();

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, "Topic", { displayName: props.displayName, enforceSSL: true });
    // A topic policy replaces the default one: with enforceSSL's Deny alone, nothing would allow
    // CloudWatch to publish, and every alarm action would fail. Only this account's alarms in this
    // region may.
    const { account, region, partition } = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchAlarms",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": account },
          ArnLike: { "aws:SourceArn": `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    if (props.email !== undefined) {
      const subscription = this.topic.addSubscription(new EmailSubscription(props.email));
      acknowledge(subscription, {
        "Serverless::Serverless-SNSRedrivePolicy":
          "A dead-letter queue for alarm emails could only be watched by an alarm notifying this same topic; the alarm stays visible in CloudWatch and on the dashboard",
      });
    } else
      Annotations.of(this).addWarningV2(
        "steadfast:no-alarm-subscriber",
        "No alarmEmail configured: alarms notify a topic nobody is subscribed to. Set alarmEmail " +
          "(and confirm the subscription AWS mails to it, in every region) or subscribe to the topic yourself.",
      );
    this.action = new SnsAction(this.topic);
  }

  /** Every alarm given so far, in order. */
  public get alarms(): readonly cloudwatch.AlarmBase[] {
    return [...this.notified];
  }

  /** Sends each alarm's ALARM and OK transitions to the topic. */
  public notify(alarms: readonly cloudwatch.AlarmBase[]): void {
    for (const alarm of alarms) {
      if (this.notified.has(alarm)) {
        throw new Error(`AlarmTopic ${this.node.path}: alarm ${alarm.node.path} already notifies this topic`);
      }
      this.notified.add(alarm);
      alarm.addAlarmAction(this.action);
      alarm.addOkAction(this.action);
    }
  }
}
