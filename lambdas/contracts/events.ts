/**
 * The SES events Steadfast consumes through EventBridge: the stacks route them to the feedback
 * queue, the local mailbox simulator publishes them, the feedback function parses them.
 * https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html
 */
export const SES_EVENT_SOURCE = "aws.ses";

export const SES_EVENT_TYPES = [
  "Send",
  "Delivery",
  "Bounce",
  "Complaint",
  "Reject",
  "Open",
  "Click",
  "Rendering Failure",
  "DeliveryDelay",
  "Subscription",
] as const;
export type SesEventType = (typeof SES_EVENT_TYPES)[number];

/** EventBridge `detail-type` of each SES event type. */
export const SES_DETAIL_TYPES: Readonly<Record<SesEventType, string>> = {
  Send: "Email Sent",
  Delivery: "Email Delivered",
  Bounce: "Email Bounced",
  Complaint: "Email Complaint Received",
  Reject: "Email Rejected",
  Open: "Email Opened",
  Click: "Email Clicked",
  "Rendering Failure": "Email Rendering Failed",
  DeliveryDelay: "Email Delivery Delayed",
  Subscription: "Email Subscribed",
};

/** The event types the feedback pipeline subscribes to (SES-managed subscriptions are not used). */
export type FeedbackEventType = Exclude<SesEventType, "Subscription">;
export const FEEDBACK_EVENT_TYPES = SES_EVENT_TYPES.filter(
  (type): type is FeedbackEventType => type !== "Subscription",
);

/** The SES message tag that names a campaign's emails (set by the sender, read back from SES events). */
export const CAMPAIGN_TAG = "campaign";

/**
 * The SES message tag a test send carries (`test` = `true`): its events are outside the campaign's
 * ledger and counters (a bounce or complaint still puts the address on the suppression list).
 */
export const TEST_SEND_TAG = "test";
