import type { AudienceStore } from "../adapters/audience-store.ts";
import type { ImportStore } from "../adapters/import-store.ts";
import type { LedgerStore } from "../adapters/ledger-store.ts";
import type { QueuePublisher } from "../adapters/queue.ts";
import type { QueueAdmin } from "../adapters/queue-admin.ts";
import type { SuppressionStore } from "../adapters/suppression-store.ts";
import type { HttpEvent, HttpResult } from "./http.ts";

/** What route handlers work with; built once per container in handler.ts. */
export interface Deps {
  readonly audience: AudienceStore;
  readonly ledger: LedgerStore;
  readonly queue: QueuePublisher;
  readonly fanoutQueueUrl: string;
  readonly queueAdmin: QueueAdmin;
  readonly imports: ImportStore;
  /** Audience jobs: CSV import chunks and list erasures. */
  readonly importQueueUrl: string;
  /** The verified SES identity: campaigns send from it or a subdomain. */
  readonly senderDomain: string;
  readonly defaultFrom: string;
  readonly now: () => Date;
  /** The suppression list and list unsubscribes (routes/suppressions.ts, routes/unsubscribe.ts). */
  readonly suppressions: SuppressionStore;
  /** The key unsubscribe tokens are signed with, read once from Secrets Manager. */
  readonly unsubscribeSecret: () => Promise<string>;
  /** Resolves when the tables and the fan-out queue answer (GET /health); rejects otherwise. */
  readonly checkHealth: () => Promise<void>;
}

export type RouteHandler = (
  event: HttpEvent,
  params: Record<string, string>,
  deps: Deps,
) => Promise<HttpResult>;
