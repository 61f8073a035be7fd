/** Cache administration: `POST /v1/admin/cache/scenarios/{id}/invalidate` (admin:*). */
import { Elysia, t } from "elysia";
import { type Authenticator, authorize, resolveTenant } from "../platform/auth";
import { notFound } from "../platform/errors";
import { envelope, optionalJsonBody, requestInfo } from "../platform/http";
import { authPlugin } from "../platform/principal";
import { ErrorResponse, PlainMeta, Uuid } from "../platform/schema";
import type { ScenarioRepo } from "../scenarios/repo";
import type { ScenarioCache } from "./service";

const Invalidated = t.Object({
  scenario_id: Uuid,
  tenant_id: t.String(),
  cache_version: t.Union([t.String(), t.Null()], { description: "The tenant's cache version after the bump; null when the cache store is unreachable or there is no cache." }),
  cache_backend: t.String({ description: "redis, memory or off" }),
});

export function cacheAdminRoutes(deps: { authenticate: Authenticator; scenarios: Pick<ScenarioRepo, "get">; cache: ScenarioCache }) {
  const { cache } = deps;
  return new Elysia({ name: "cache-admin" })
    .model({ CacheInvalidatedEnvelope: t.Object({ meta: PlainMeta, data: Invalidated }) })
    .use(authPlugin(deps.authenticate))
    .guard({ auth: true })
    .post(
      "/v1/admin/cache/scenarios/:id/invalidate",
      async ({ request, principal, params, query }) => {
        authorize(principal, "admin:*");
        const scenario = await deps.scenarios.get(params.id, resolveTenant(principal, query.tenant_id));
        if (!scenario) throw notFound("scenario");
        const version = await cache.invalidate({ tenantId: scenario.tenant_id, scenarioId: scenario.id, reason: "admin", requestId: requestInfo(request).requestId });
        return envelope(request, { scenario_id: scenario.id, tenant_id: scenario.tenant_id, cache_version: version, cache_backend: cache.backend });
      },
      {
        // No body is needed; one that is sent must be a JSON object (a malformed one is a 400), as on every POST.
        parse: optionalJsonBody,
        params: t.Object({ id: Uuid }),
        query: t.Object({ tenant_id: t.Optional(t.String({ maxLength: 128 })) }, { additionalProperties: false }),
        response: { 200: "CacheInvalidatedEnvelope", 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse },
        detail: {
          tags: ["cache"],
          summary: "Invalidate a scenario's cached outputs",
          description:
            "Needs admin:*. Bumps the cache version of the scenario's tenant, so every cached /outputs page and /metrics/latest of that tenant is read from the store again, and publishes an invalidation event (docs/cache.md). Succeeds (with `cache_version: null`) even when the cache store is unreachable.",
        },
      },
    );
}
