import type { Route } from "./router.ts";
import * as admin from "./routes/admin.ts";
import * as apiKeys from "./routes/api-keys.ts";
import * as campaignControl from "./routes/campaign-control.ts";
import * as campaignReports from "./routes/campaign-reports.ts";
import * as campaignTest from "./routes/campaign-test.ts";
import * as campaigns from "./routes/campaigns.ts";
import * as health from "./routes/health.ts";
import * as imports from "./routes/imports.ts";
import * as lists from "./routes/lists.ts";
import * as openApi from "./routes/openapi.ts";
import * as segments from "./routes/segments.ts";
import * as subscribers from "./routes/subscribers.ts";
import * as confirm from "./routes/confirm.ts";
import * as people from "./routes/people.ts";
import * as preferences from "./routes/preferences.ts";
import * as suppressions from "./routes/suppressions.ts";
import * as templates from "./routes/templates.ts";
import * as webhooks from "./routes/webhooks.ts";
import * as unsubscribe from "./routes/unsubscribe.ts";

/**
 * Every route the API serves, in one place: method, path, the scope a key needs (`null`: public),
 * the handler and its OpenAPI description. The handlers live one file per resource in routes/.
 * The router tries routes in this order, and a 405 lists the methods of a path in this order.
 */
export const ROUTES: readonly Route[] = [
  // --- Health and this document ------------------------------------------------------------------
  {
    method: "GET",
    path: "/health",
    scope: null,
    handler: health.health,
    doc: health.docs.health,
  },
  {
    method: "GET",
    path: "/v1/openapi.json",
    scope: "read",
    handler: openApi.serveOpenApi(() => ROUTES),
    doc: openApi.docs.serveOpenApi,
  },
  // --- API keys ----------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/api-keys",
    scope: "admin",
    handler: apiKeys.createKey,
    doc: apiKeys.docs.createKey,
    replayable: apiKeys.withoutSecret,
  },
  {
    method: "GET",
    path: "/v1/api-keys",
    scope: "admin",
    handler: apiKeys.listKeys,
    doc: apiKeys.docs.listKeys,
  },
  {
    method: "DELETE",
    path: "/v1/api-keys/{id}",
    scope: "admin",
    handler: apiKeys.revokeKey,
    doc: apiKeys.docs.revokeKey,
  },
  // --- Lists -------------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/lists",
    scope: "write",
    handler: lists.createList,
    doc: lists.docs.createList,
  },
  {
    method: "GET",
    path: "/v1/lists",
    scope: "read",
    handler: lists.pageLists,
    doc: lists.docs.pageLists,
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}",
    scope: "read",
    handler: lists.getList,
    doc: lists.docs.getList,
  },
  {
    method: "PATCH",
    path: "/v1/lists/{listId}",
    scope: "write",
    handler: lists.patchList,
    doc: lists.docs.patchList,
  },
  {
    method: "DELETE",
    path: "/v1/lists/{listId}",
    scope: "write",
    handler: lists.deleteList,
    doc: lists.docs.deleteList,
  },
  // --- Subscribers -------------------------------------------------------------------------------
  {
    method: "PUT",
    path: "/v1/lists/{listId}/subscribers",
    scope: "write",
    handler: subscribers.upsertSubscribers,
    doc: subscribers.docs.upsertSubscribers,
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}/subscribers",
    scope: "read",
    handler: subscribers.listSubscribers,
    doc: subscribers.docs.listSubscribers,
  },
  {
    method: "GET",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "read",
    handler: subscribers.getSubscriber,
    doc: subscribers.docs.getSubscriber,
  },
  {
    method: "PATCH",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "write",
    handler: subscribers.patchSubscriber,
    doc: subscribers.docs.patchSubscriber,
  },
  {
    method: "DELETE",
    path: "/v1/lists/{listId}/subscribers/{email}",
    scope: "write",
    handler: subscribers.deleteSubscriber,
    doc: subscribers.docs.deleteSubscriber,
  },
  {
    method: "POST",
    path: "/v1/lists/{listId}/subscribers/{email}/confirmation",
    scope: "write",
    handler: subscribers.resendConfirmation,
    doc: subscribers.docs.resendConfirmation,
  },
  // --- Saved segments ------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/segments",
    scope: "write",
    handler: segments.createSegment,
    doc: segments.docs.createSegment,
  },
  {
    method: "GET",
    path: "/v1/segments",
    scope: "read",
    handler: segments.pageSegments,
    doc: segments.docs.pageSegments,
  },
  {
    method: "GET",
    path: "/v1/segments/{id}",
    scope: "read",
    handler: segments.getSegment,
    doc: segments.docs.getSegment,
  },
  {
    method: "PATCH",
    path: "/v1/segments/{id}",
    scope: "write",
    handler: segments.patchSegment,
    doc: segments.docs.patchSegment,
  },
  {
    method: "DELETE",
    path: "/v1/segments/{id}",
    scope: "write",
    handler: segments.deleteSegment,
    doc: segments.docs.deleteSegment,
  },
  {
    method: "POST",
    path: "/v1/segments/{id}/preview",
    scope: "read",
    handler: segments.previewSegment,
    doc: segments.docs.previewSegment,
    readOnly: true,
  },
  // --- CSV imports -------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/lists/{listId}/imports",
    scope: "write",
    handler: imports.createImport,
    doc: imports.docs.createImport,
  },
  {
    method: "GET",
    path: "/v1/imports/{id}",
    scope: "read",
    handler: imports.getImport,
    doc: imports.docs.getImport,
  },
  // --- Campaigns ---------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/campaigns",
    scope: "write",
    handler: campaigns.createCampaign,
    doc: campaigns.docs.createCampaign,
  },
  {
    method: "GET",
    path: "/v1/campaigns",
    scope: "read",
    handler: campaigns.pageCampaigns,
    doc: campaigns.docs.pageCampaigns,
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}",
    scope: "read",
    handler: campaigns.getCampaign,
    doc: campaigns.docs.getCampaign,
  },
  {
    method: "PATCH",
    path: "/v1/campaigns/{id}",
    scope: "write",
    handler: campaigns.patchCampaign,
    doc: campaigns.docs.patchCampaign,
  },
  {
    method: "DELETE",
    path: "/v1/campaigns/{id}",
    scope: "write",
    handler: campaigns.deleteCampaign,
    doc: campaigns.docs.deleteCampaign,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/send",
    scope: "write",
    handler: campaigns.sendCampaign,
    doc: campaigns.docs.sendCampaign,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/preview",
    scope: "read",
    handler: campaigns.previewCampaign,
    doc: campaigns.docs.previewCampaign,
    readOnly: true,
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}/recipients",
    scope: "read",
    handler: campaigns.listRecipients,
    doc: campaigns.docs.listRecipients,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/test",
    scope: "write",
    handler: campaignTest.testCampaign,
    doc: campaignTest.docs.testCampaign,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/follow-up",
    scope: "write",
    handler: campaigns.followUp,
    doc: campaigns.docs.followUp,
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}/links",
    scope: "read",
    handler: campaignReports.campaignLinks,
    doc: campaignReports.docs.campaignLinks,
  },
  {
    method: "GET",
    path: "/v1/campaigns/{id}/timeline",
    scope: "read",
    handler: campaignReports.campaignTimeline,
    doc: campaignReports.docs.campaignTimeline,
  },
  // --- Templates ---------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/templates",
    scope: "write",
    handler: templates.createTemplate,
    doc: templates.docs.createTemplate,
  },
  {
    method: "GET",
    path: "/v1/templates",
    scope: "read",
    handler: templates.pageTemplates,
    doc: templates.docs.pageTemplates,
  },
  {
    method: "GET",
    path: "/v1/templates/{id}",
    scope: "read",
    handler: templates.getTemplate,
    doc: templates.docs.getTemplate,
  },
  {
    method: "POST",
    path: "/v1/templates/{id}/versions",
    scope: "write",
    handler: templates.addTemplateVersion,
    doc: templates.docs.addTemplateVersion,
  },
  {
    method: "GET",
    path: "/v1/templates/{id}/versions/{version}",
    scope: "read",
    handler: templates.getTemplateVersion,
    doc: templates.docs.getTemplateVersion,
  },
  // --- Webhooks ----------------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/webhooks",
    scope: "admin",
    handler: webhooks.createWebhook,
    doc: webhooks.docs.createWebhook,
  },
  {
    method: "GET",
    path: "/v1/webhooks",
    scope: "admin",
    handler: webhooks.pageWebhooks,
    doc: webhooks.docs.pageWebhooks,
  },
  {
    method: "GET",
    path: "/v1/webhooks/{id}",
    scope: "admin",
    handler: webhooks.getWebhook,
    doc: webhooks.docs.getWebhook,
  },
  {
    method: "PATCH",
    path: "/v1/webhooks/{id}",
    scope: "admin",
    handler: webhooks.patchWebhook,
    doc: webhooks.docs.patchWebhook,
  },
  {
    method: "DELETE",
    path: "/v1/webhooks/{id}",
    scope: "admin",
    handler: webhooks.deleteWebhook,
    doc: webhooks.docs.deleteWebhook,
  },
  {
    method: "GET",
    path: "/v1/webhooks/{id}/deliveries",
    scope: "admin",
    handler: webhooks.pageDeliveries,
    doc: webhooks.docs.pageDeliveries,
  },
  {
    method: "POST",
    path: "/v1/webhooks/{id}/replay",
    scope: "admin",
    handler: webhooks.replay,
    doc: webhooks.docs.replay,
  },
  // --- Campaign control --------------------------------------------------------------------------
  {
    method: "POST",
    path: "/v1/campaigns/{id}/pause",
    scope: "write",
    handler: campaignControl.pause,
    doc: campaignControl.docs.pause,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/resume",
    scope: "write",
    handler: campaignControl.resume,
    doc: campaignControl.docs.resume,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/cancel",
    scope: "write",
    handler: campaignControl.cancel,
    doc: campaignControl.docs.cancel,
  },
  {
    method: "POST",
    path: "/v1/campaigns/{id}/takeover",
    scope: "admin",
    handler: campaignControl.takeover,
    doc: campaignControl.docs.takeover,
  },
  // --- Queue administration ----------------------------------------------------------------------
  {
    method: "GET",
    path: "/v1/admin/queues",
    scope: "admin",
    handler: admin.queues,
    doc: admin.docs.queues,
  },
  {
    method: "POST",
    path: "/v1/admin/dlq/redrive",
    scope: "admin",
    handler: admin.redrive,
    doc: admin.docs.redrive,
  },
  // --- A person across every list (data-subject requests) ----------------------------------------
  {
    method: "GET",
    path: "/v1/people/{email}",
    scope: "admin",
    handler: people.exportPersonRoute,
    doc: people.docs.exportPersonRoute,
  },
  {
    method: "DELETE",
    path: "/v1/people/{email}",
    scope: "admin",
    handler: people.erasePersonRoute,
    doc: people.docs.erasePersonRoute,
  },
  // --- One-click unsubscribe (public: the signed token is the credential) ------------------------
  {
    method: "GET",
    path: "/u/{token}",
    scope: null,
    handler: unsubscribe.unsubscribePage,
    doc: unsubscribe.docs.unsubscribePage,
  },
  {
    method: "POST",
    path: "/u/{token}",
    scope: null,
    handler: unsubscribe.unsubscribeOneClick,
    doc: unsubscribe.docs.unsubscribeOneClick,
  },
  // --- Double opt-in confirmation links (public: the signed token is the credential) ----------
  {
    method: "GET",
    path: "/c/{token}",
    scope: null,
    handler: confirm.confirmationPage,
    doc: confirm.docs.confirmationPage,
  },
  {
    method: "POST",
    path: "/c/{token}",
    scope: null,
    handler: confirm.confirmSubscription,
    doc: confirm.docs.confirmSubscription,
  },
  // --- The preference center (public: the signed unsubscribe token is the credential) ----------
  {
    method: "GET",
    path: "/p/{token}",
    scope: null,
    handler: preferences.preferencesPage,
    doc: preferences.docs.preferencesPage,
  },
  {
    method: "POST",
    path: "/p/{token}",
    scope: null,
    handler: preferences.savePreferences,
    doc: preferences.docs.savePreferences,
  },
  // --- The account-wide suppression list ---------------------------------------------------------
  {
    method: "GET",
    path: "/v1/suppressions",
    scope: "read",
    handler: suppressions.listSuppressions,
    doc: suppressions.docs.listSuppressions,
  },
  {
    method: "PUT",
    path: "/v1/suppressions/{email}",
    scope: "write",
    handler: suppressions.putSuppression,
    doc: suppressions.docs.putSuppression,
  },
  {
    method: "DELETE",
    path: "/v1/suppressions/{email}",
    scope: "write",
    handler: suppressions.deleteSuppression,
    doc: suppressions.docs.deleteSuppression,
  },
];
