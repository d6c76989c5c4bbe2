/**
 * Names of the pipeline's own CloudWatch metrics: the functions emit them, the stacks alarm on
 * them, the dashboard draws them. The namespace is set per deployment by the stacks
 * (POWERTOOLS_METRICS_NAMESPACE).
 */
export const METRIC = {
  emailsSent: "EmailsSent",
  sendFailed: "SendFailed",
  sendDeferred: "SendDeferred",
  suppressed: "Suppressed",
  throttled: "Throttled",
  failoverUsed: "FailoverUsed",
  breakerOpened: "BreakerOpened",
  breakerTransition: "BreakerTransition",
  possibleDuplicate: "PossibleDuplicate",
  sesEnforcement: "SesEnforcement",
  recipientsQueued: "RecipientsQueued",
  subscribersImported: "SubscribersImported",
  hardBounces: "HardBounces",
  complaints: "Complaints",
  reputationPause: "ReputationPause",
  feedbackDuplicate: "FeedbackDuplicate",
  feedbackInvalid: "FeedbackInvalid",
  feedbackUnmatched: "FeedbackUnmatched",
  webhookDelivered: "WebhookDelivered",
  webhookFailed: "WebhookFailed",
  /** Milliseconds from an event's fact to its delivery. */
  webhookLag: "WebhookLag",
  webhookDisabled: "WebhookDisabled",
} as const;
