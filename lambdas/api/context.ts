import type { ApiKeyStore } from "../adapters/api-key-store.ts";
import type { CampaignAgendaStore } from "../adapters/campaign-agenda-store.ts";
import type { CampaignStore } from "../adapters/campaign-store.ts";
import type { CampaignCounterStore } from "../adapters/campaign-counter-store.ts";
import type { ImportStore } from "../adapters/import-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { ListStore } from "../adapters/list-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { QueueAdmin } from "../adapters/queue-admin.ts";
import type { SegmentStore } from "../adapters/segment-store.ts";
import type { SubscriberStore } from "../adapters/subscriber-store.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { TemplateStore } from "../adapters/template-store.ts";
import type { WebhookDeliveryStore } from "../adapters/webhook-delivery-store.ts";
import type { WebhookStore } from "../adapters/webhook-store.ts";
import type { WebhookPublisher } from "../adapters/webhook-publisher.ts";
import type { CampaignDeps } from "../usecases/campaign-workflows.ts";
import type { Principal } from "./auth.ts";
import type { HttpEvent, HttpResult } from "./http.ts";

/** What route handlers work with; built once per container in handler.ts. */
export interface Deps extends CampaignDeps {
  readonly lists: ListStore;
  readonly subscribers: SubscriberStore;
  readonly segments: SegmentStore;
  readonly templates: TemplateStore;
  readonly webhooks: WebhookStore;
  readonly webhookDeliveries: WebhookDeliveryStore;
  /** Publishes webhook events of what the API changed, at best effort (adapters/webhook-publisher.ts). */
  readonly events: Pick<WebhookPublisher, "flush">;
  /** Where replays go, for this region's webhooks function (unset: no webhooks queue in this deployment). */
  readonly webhookQueueUrl: string | undefined;
  /** Whether webhook URLs may be plain HTTP to a loopback address (the local runtime). */
  readonly allowLoopbackWebhooks: boolean;
  readonly campaigns: CampaignStore;
  /** This region's feedback counters (one-click unsubscribes are counted here). */
  readonly counters: CampaignCounterStore;
  readonly agenda: CampaignAgendaStore;
  readonly apiKeys: ApiKeyStore;
  readonly ledger: LedgerStore;
  /** How long the ledger keeps a recipient's record (segment engagement tests look this far back). */
  readonly retentionDays: number;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  /** Where resume puts a paused campaign's held recipients back. */
  readonly sendQueueUrl: string;
  readonly queueAdmin: QueueAdmin;
  readonly imports: ImportStore;
  /** Audience jobs: CSV import chunks and list erasures. */
  readonly audienceJobsQueueUrl: string;
  /** The verified SES identity: campaigns send from it or a subdomain. */
  readonly senderDomain: string;
  readonly defaultFrom: string;
  readonly now: () => Date;
  /** The suppression list (routes/suppressions.ts). */
  readonly suppressions: SuppressionStore;
  /** The hash of the bootstrap admin key (undefined when its secret is empty). */
  readonly adminKeyHash: () => Promise<string | undefined>;
  /** The key unsubscribe tokens are signed with, read once from Secrets Manager. */
  readonly unsubscribeSecret: () => Promise<string>;
  /** Whether each of the region's dependencies answers (GET /health); never rejects. */
  readonly checkHealth: () => Promise<HealthReport>;
}

export type RouteHandler = (
  event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
  /** The API key the request came with (absent on public routes): who changed what. */
  caller?: Principal,
) => Promise<HttpResult>;

/**
 * What GET /health found in its region: the DynamoDB replica (both tables), the work queues, and
 * SES (its account answers).
 */
interface HealthReport {
  readonly dynamodb: boolean;
  readonly queues: boolean;
  readonly ses: boolean;
}
