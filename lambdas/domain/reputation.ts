/**
 * The reputation guard. SES puts an account under review at a 5 % bounce rate or a 0.1 % complaint
 * rate (https://docs.aws.amazon.com/ses/latest/dg/faqs-enforcement.html); a campaign that crosses
 * either on its own is stopped before it drags the account there. Rates are judged only once a
 * campaign has sent enough messages for them to mean something.
 */
export const REPUTATION_LIMITS = {
  minSent: 200,
  maxBounceRate: 0.05,
  maxComplaintRate: 0.001,
} as const;

export interface ReputationCounters {
  readonly sent: number;
  readonly bounced: number;
  readonly complained: number;
}

/** Why the campaign must pause, or undefined when it may go on. */
export function reputationVerdict(
  counters: ReputationCounters,
  limits: typeof REPUTATION_LIMITS = REPUTATION_LIMITS,
): string | undefined {
  const { sent, bounced, complained } = counters;
  if (sent < limits.minSent) return undefined;
  const pct = (rate: number) => `${(rate * 100).toFixed(2)} %`;
  if (bounced / sent > limits.maxBounceRate) {
    return `reputation guard: bounce rate ${pct(bounced / sent)} (${bounced} of ${sent} sent) is above ${pct(limits.maxBounceRate)}`;
  }
  if (complained / sent > limits.maxComplaintRate) {
    return `reputation guard: complaint rate ${pct(complained / sent)} (${complained} of ${sent} sent) is above ${pct(limits.maxComplaintRate)}`;
  }
  return undefined;
}
