/**
 * The Steadfast SDK: a typed API client and the webhook signature check receivers use.
 *
 *   import { SteadfastApi, verifyWebhookSignature } from "steadfast/sdk";
 */
export {
  type Campaign,
  type CampaignInput,
  type FollowUpInput,
  type ImportJob,
  type MailingList,
  type QueueReport,
  SteadfastApi,
  SteadfastApiError,
  type SteadfastApiOptions,
  type Subscriber,
  type Template,
  type TemplateVersion,
  type Webhook,
} from "./client.ts";
export { SIGNATURE_HEADER, verifyWebhookSignature } from "../lambdas/domain/webhook-signature.ts";
