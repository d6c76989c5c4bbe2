import type { Route } from "./router.ts";

/** One-click unsubscribe and the suppression list. */
export const deliverabilityRoutes: readonly Route[] = [];
