import { AsyncLocalStorage } from "node:async_hooks";

/** What ties a log line to the work it is about. */
export interface Correlation {
  /** The SQS message being handled. */
  messageId?: string;
  campaignId?: string;
}

/*
 * Not Powertools' `logger.appendKeys`: those keys belong to the logger instance, which every record
 * of a batch shares, and the sender handles the records of a batch concurrently. An async context
 * gives each record its own keys, also on the lines SesSender's events log deep in its calls.
 */
const storage = new AsyncLocalStorage<Correlation>();

/** Runs `work` with `correlation` as the context of every log line it writes. */
export function withCorrelation<T>(correlation: Correlation, work: () => Promise<T>): Promise<T> {
  return storage.run({ ...correlation }, work);
}

/** Adds to the current context (a campaign id known once the message is parsed). */
export function correlate(keys: Correlation): void {
  const current = storage.getStore();
  if (current) Object.assign(current, keys);
}

/** The keys of the current context, to spread into a log line's attributes. */
export function correlation(): Correlation {
  return { ...storage.getStore() };
}
