/**
 * Authorization before anything of the request is validated: each route that needs a permission
 * names it here, and one global hook checks it as soon as the route is known. Elysia's order is
 * parse → transform (derive) → schema validation of params, query and body → beforeHandle/resolve
 * → handler, so a check in `beforeHandle` or in the service comes after validation: a caller
 * without the permission would learn the schema from 400s. The services keep their own (finer)
 * checks.
 */
import { Elysia } from "elysia";
import { type Authenticator, authorizeAny, type Permission } from "./auth";

const READ: readonly Permission[] = ["scenarios:read"];
const WRITE: readonly Permission[] = ["scenarios:write"];
const RUN: readonly Permission[] = ["scenarios:run"];
const ADMIN: readonly Permission[] = ["admin:*"];
const ANY_ADMIN: readonly Permission[] = ["admin:rate_limits", "admin:feature_flags"];

/**
 * `METHOD route` (Elysia's route pattern) → the permissions of which the caller needs one. A route
 * missing here is public or checks in its handler; test/security/auth.test.ts fails for any route
 * with a body, query or params schema that is missing (except the public ones it lists).
 */
export const ROUTE_PERMISSIONS: ReadonlyMap<string, readonly Permission[]> = new Map([
  ["GET /v1/scenarios", READ],
  ["POST /v1/scenarios", WRITE],
  ["GET /v1/scenarios/:id", READ],
  ["PATCH /v1/scenarios/:id", WRITE],
  ["DELETE /v1/scenarios/:id", ["scenarios:delete"]],
  ["POST /v1/scenarios/:id/run", RUN],
  ["POST /v1/scenarios/:id/runs:verb", RUN],
  ["GET /v1/scenarios/:id/runs", READ],
  ["GET /v1/scenarios/:id/runs/:run_id", READ],
  ["GET /v1/scenarios/:id/runs/:run_id/events", READ],
  ["POST /v1/scenarios/runs/:run_id/cancel", RUN],
  ["POST /v1/scenarios/runs/:run_id/state", ADMIN],
  ["GET /v1/scenarios/:id/outputs", READ],
  ["GET /v1/scenarios/:id/compare", READ],
  ["GET /v1/scenarios/:id/metrics/latest", READ],
  ["POST /v1/curves:verb", ADMIN],
  ["GET /v1/curves", READ],
  ["GET /v1/curves/:curve_key", READ],
  ["POST /v1/admin/cache/scenarios/:id/invalidate", ADMIN],
  ["GET /v1/admin/config", ANY_ADMIN],
  ["GET /v1/admin/config/ratelimit/:tenant", ["admin:rate_limits"]],
  ["PUT /v1/admin/config/ratelimit/:tenant", ["admin:rate_limits"]],
  ["DELETE /v1/admin/config/ratelimit/:tenant", ["admin:rate_limits"]],
  ["GET /v1/admin/config/feature-flags/:tenant", ["admin:feature_flags"]],
  ["PUT /v1/admin/config/feature-flags/:tenant/:feature", ["admin:feature_flags"]],
  ["DELETE /v1/admin/config/feature-flags/:tenant/:feature", ["admin:feature_flags"]],
  ["GET /v1/admin/config/audit-log", ANY_ADMIN],
]);

export function routePermissions(method: string, route: string | undefined): readonly Permission[] | undefined {
  return route ? ROUTE_PERMISSIONS.get(`${method} ${route}`) : undefined;
}

/**
 * The global hook. `authenticate` must remember its result per request (rememberPrincipal), so
 * the routes' `auth` macro (src/platform/principal.ts) reuses this verification. It runs at transform: after Elysia parsed the
 * body (a parse hook would make Elysia parse the bodies of `parse: "none"` routes, such as the
 * streamed curve import), before any schema validation.
 */
export function requireRoutePermissions(authenticate: Authenticator) {
  return new Elysia({ name: "route-permissions" }).onTransform({ as: "global" }, async ({ request, route }) => {
    const needed = routePermissions(request.method, route);
    if (needed) authorizeAny(await authenticate(request), needed);
  });
}
