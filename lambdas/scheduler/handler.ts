import type { Context } from "aws-lambda";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { ownershipFromEnv } from "../adapters/ownership-env.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { ListStore } from "../adapters/list-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { webhookPublisherFromEnv } from "../adapters/webhook-publisher.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, publishMetrics, traceHandler } from "../shared/powertools.ts";
import { watchCampaigns } from "./campaign-watch.ts";
import { runScheduledWork } from "./scheduled-campaigns.ts";
import { ENV } from "../contracts/env.ts";

const db = createDocumentClient();
const audienceTable = requireEnv(ENV.audienceTable);
const queue = new QueuePublisher(createSqsClient());
const deps = {
  campaigns: new CampaignStore(db, audienceTable, webhookPublisherFromEnv(db, queue).transitions()),
  agenda: new CampaignAgendaStore(db, audienceTable),
  lists: new ListStore(db, audienceTable),
  subscribers: new SubscriberStore(db, audienceTable),
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable)),
  queue,
  fanoutQueueUrl: requireEnv(ENV.fanoutQueueUrl),
  sendQueueUrl: requireEnv(ENV.sendQueueUrl),
  now: () => new Date(),
  // Twice the fan-out function's timeout: a live fan-out checkpoints far more often than that, and
  // a sending campaign whose recipients do not move for this long has lost its messages.
  stalledAfterMs: numberEnv(ENV.stalledAfterSeconds, 600) * 1000,
  fanoutLeaseMs: Number(requireEnv(ENV.fanoutLeaseSeconds)) * 1000,
  ownership: ownershipFromEnv(db),
};

/** A scheduler task: one job the every-minute tick runs. Tasks run side by side. */
export interface ScheduledTask {
  readonly name: string;
  /** What the task did; `failed` counts the campaigns (or lists) whose turn threw. */
  run(): Promise<Record<string, number>>;
}

/** Logs one campaign's (or list's) failure; the task carries on with the others. */
const itemFailed = (task: string) => (id: string, error: unknown) =>
  logger.error("scheduled work failed for one item", {
    task,
    id,
    error: (error as Error)?.name,
    message: (error as Error)?.message,
  });

export const TASKS: ScheduledTask[] = [
  {
    name: "watch-campaigns",
    run: async () => ({ ...(await watchCampaigns(deps, itemFailed("watch-campaigns"))) }),
  },
  {
    name: "scheduled-campaigns",
    run: async () => ({
      ...(await runScheduledWork(
        {
          ...deps,
          audienceJobsQueueUrl: requireEnv(ENV.audienceJobsQueueUrl),
          erasureRetryAfterMs: 15 * 60_000,
        },
        itemFailed("scheduled-campaigns"),
      )),
    }),
  },
];

/**
 * Runs every minute (EventBridge schedule, no retries: the next tick picks up what this one
 * missed). Tasks run side by side, so a slow watch does not hold back scheduled starts; a failing
 * task, campaign or list is logged and does not stop the others. The tick fails at the end if
 * anything failed, so the failure reaches the function's alarms and its on-failure queue.
 */
export const handler = traceHandler(async (_event: unknown, context: Context) => {
  logger.addContext(context);
  const results: Record<string, Record<string, number>> = {};
  let failed = 0;
  const settled = await Promise.allSettled(TASKS.map((task) => task.run()));
  settled.forEach((outcome, i) => {
    const name = TASKS[i]?.name ?? String(i);
    if (outcome.status === "fulfilled") {
      results[name] = outcome.value;
      failed += outcome.value.failed ?? 0;
      return;
    }
    failed++;
    logger.error("scheduled task failed", {
      task: name,
      error: (outcome.reason as Error)?.name,
      reason: (outcome.reason as Error)?.message,
    });
  });
  logger.info("scheduler tick", { results });
  publishMetrics();
  if (failed > 0) throw new Error(`${failed} scheduled task(s) or item(s) failed`);
  return results;
});
