import type { z } from "zod";
import { ApiError } from "./http-errors.ts";
import type { RouteHandler } from "./context.ts";
import type { HttpResult } from "./http.ts";

export type Scope = "admin" | "write" | "read";

/**
 * What the OpenAPI document says about a route. The schemas are the ones the handler validates
 * with, so the document cannot drift from the code. Every field is optional: a route without a
 * `doc` is still documented (path, method, scope and the common error responses).
 */
export interface RouteDoc {
  readonly summary?: string;
  /** Request body schema (JSON unless `bodyContentType` says otherwise). */
  readonly body?: z.ZodType;
  /** @default "application/json" */
  readonly bodyContentType?: string;
  /** Query parameters: a zod object. A documented route without `query` refuses any parameter. */
  readonly query?: z.ZodObject;
  /** Success responses by status code. */
  readonly responses?: Readonly<
    Record<number, { readonly description: string; readonly schema?: z.ZodType }>
  >;
}

export interface Route {
  readonly method: string;
  readonly path: string;
  /** The scope a key needs; `null` for public routes. */
  readonly scope: Scope | null;
  readonly handler: RouteHandler;
  readonly doc?: RouteDoc;
  /**
   * What of a success the idempotency store may keep for replay (default: all of it). A route
   * whose answer holds a secret keeps only what is safe to persist.
   */
  readonly replayable?: (result: HttpResult) => HttpResult;
  /**
   * A POST that changes nothing (a preview): an Idempotency-Key is ignored and its answer, which
   * names subscribers, is never stored (an erased person must not live on in a replay record).
   */
  readonly readOnly?: true;
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly names: string[];
}

export interface Match {
  readonly route: Route;
  readonly params: Record<string, string>;
}

/** Matches `METHOD /path` against templates like `/v1/campaigns/{id}`; 404 and 405 when nothing fits. */
export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.routes = routes.map((route) => {
      const names: string[] = [];
      const source = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      return { ...route, names, pattern: new RegExp(`^${source}/?$`) };
    });
  }

  match(method: string, path: string): Match {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1] ?? "");
      });
      return { route, params };
    }
    if (allowed.length > 0) {
      throw new ApiError(
        405,
        "method_not_allowed",
        `${method} is not allowed here; use ${allowed.join(", ")}`,
      );
    }
    throw new ApiError(404, "not_found", "no such route");
  }

  list(): readonly Route[] {
    return this.routes;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return "\u0000invalid";
  }
}
