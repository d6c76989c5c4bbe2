/**
 * What a campaign counts of its SES feedback: each counter moves once per recipient, the first time
 * the fact it counts is recorded (unique opens, unique clickers, …).
 */
const FEEDBACK_COUNTERS = [
  "sent",
  "delivered",
  "bounced",
  "complained",
  "opened",
  "clicked",
  "unsubscribed",
] as const;
export type FeedbackCounter = (typeof FEEDBACK_COUNTERS)[number];
export type FeedbackCounters = Record<FeedbackCounter, number>;

export function zeroCounters(): FeedbackCounters {
  return Object.fromEntries(FEEDBACK_COUNTERS.map((c) => [c, 0])) as FeedbackCounters;
}
