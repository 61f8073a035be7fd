/**
 * The caller of a route, as one Elysia macro: a route (or a guard over a feature's routes) that
 * says `auth: true` gets a typed `principal` from `resolve`. Resolve runs after schema validation,
 * yet a caller without a token still gets 401 (and one without the permission 403) before any
 * 400: the request was authenticated already by the body reader (onRequest) or by the route
 * permissions hook (transform, src/platform/route-permissions.ts), and the authenticator
 * remembers its result per request (rememberPrincipal), so resolve hands over that principal.
 */
import { Elysia } from "elysia";
import type { Authenticator } from "./auth";

export function authPlugin(authenticate: Authenticator) {
  return new Elysia({ name: "auth" }).macro({
    auth: {
      resolve: async ({ request }) => ({ principal: await authenticate(request) }),
    },
  });
}
