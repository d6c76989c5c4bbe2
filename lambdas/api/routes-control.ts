import type { Route } from "./router.ts";

/** Campaign control (pause, resume, cancel) and queue administration. */
export const controlRoutes: readonly Route[] = [];
