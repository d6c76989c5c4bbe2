import type { Context } from "aws-lambda";
import { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import { CampaignStore } from "../adapters/campaign-store.ts";
import { createDocumentClient, createSqsClient } from "../adapters/clients.ts";
import { LedgerStore } from "../adapters/ledger-store.ts";
import { ListStore } from "../adapters/list-store.ts";
import { QueuePublisher } from "../adapters/queue.ts";
import { SubscriberStore } from "../adapters/subscriber-store.ts";
import { numberEnv, requireEnv } from "../shared/env.ts";
import { logger, metrics, traceHandler } from "../shared/powertools.ts";
import { watchCampaigns } from "./campaign-watch.ts";
import { runScheduledWork } from "./scheduled-campaigns.ts";
import { ENV } from "../contracts/env.ts";

const db = createDocumentClient();
const audienceTable = requireEnv(ENV.audienceTable);
const deps = {
  campaigns: new CampaignStore(db, audienceTable),
  agenda: new CampaignAgendaStore(db, audienceTable),
  lists: new ListStore(db, audienceTable),
  subscribers: new SubscriberStore(db, audienceTable),
  ledger: new LedgerStore(db, requireEnv(ENV.ledgerTable)),
  queue: new QueuePublisher(createSqsClient()),
  fanoutQueueUrl: requireEnv(ENV.fanoutQueueUrl),
  sendQueueUrl: requireEnv(ENV.sendQueueUrl),
  now: () => new Date(),
  // Twice the fan-out function's timeout: a live fan-out checkpoints far more often than that, and
  // a sending campaign whose recipients do not move for this long has lost its messages.
  stalledAfterMs: numberEnv(ENV.stalledAfterSeconds, 600) * 1000,
};

/** A scheduler task: one job the every-minute tick runs. Tasks run one after another. */
export interface ScheduledTask {
  readonly name: string;
  run(): Promise<Record<string, number>>;
}

export const TASKS: ScheduledTask[] = [
  { name: "watch-campaigns", run: async () => ({ ...(await watchCampaigns(deps)) }) },
  {
    name: "scheduled-campaigns",
    run: async () => ({
      ...(await runScheduledWork({
        ...deps,
        audienceJobsQueueUrl: requireEnv(ENV.audienceJobsQueueUrl),
        erasureRetryAfterMs: 15 * 60_000,
      })),
    }),
  },
];

/** Runs every minute (EventBridge schedule). A failing task is logged and does not stop the others. */
export const handler = traceHandler(async (_event: unknown, context: Context) => {
  logger.addContext(context);
  const results: Record<string, unknown> = {};
  let failed = 0;
  for (const task of TASKS) {
    try {
      results[task.name] = await task.run();
    } catch (error) {
      failed++;
      logger.error("scheduled task failed", {
        task: task.name,
        error: (error as Error)?.name,
        message: (error as Error)?.message,
      });
    }
  }
  logger.info("scheduler tick", { results });
  metrics.publishStoredMetrics();
  if (failed > 0) throw new Error(`${failed} scheduled task(s) failed`);
  return results;
});
