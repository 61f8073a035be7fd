/** Runtime config routes under /v1/admin/config: rate limits and feature flags per tenant or `_global`, and the audit log. */
import { Elysia, t } from "elysia";
import type { Authenticator } from "../platform/auth";
import { envelope, pageEnvelope, requestInfo } from "../platform/http";
import { authPlugin } from "../platform/principal";
import { ErrorResponse } from "../platform/schema";
import { AuditQuery, configModels, Scope } from "./model";
import type { Flags } from "./service";

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse } as const;
const ScopeParams = t.Object({ tenant: Scope });
const FeatureParams = t.Object({ tenant: Scope, feature: t.String({ maxLength: 64, description: "scenario_outputs (alias ScenarioOutputFeature), csv_export or bulk_runs." }) });
const detail = (summary: string, description: string) => ({ tags: ["admin"], summary, description });

export function adminConfigRoutes(deps: { authenticate: Authenticator; flags: Flags }) {
  const { admin } = deps.flags;
  return (
    new Elysia({ name: "admin-config" })
      .model(configModels)
      // Every route here is in ROUTE_PERMISSIONS: a caller without an admin permission is a 403 before
      // any validation (src/platform/route-permissions.ts), and the service checks again.
      .use(authPlugin(deps.authenticate))
      .guard({ auth: true })
      .get("/v1/admin/config", async ({ request, principal }) => envelope(request, await admin.overview(principal)), {
        // No parameters, query or body: never a 400.
        response: { 200: "RuntimeConfigEnvelope", 401: ErrorResponse, 403: ErrorResponse },
        detail: detail(
          "Runtime config overview",
          "The config version, the `_global` rate limit and feature flags, and the tenants that have overrides. Needs admin:rate_limits or admin:feature_flags.",
        ),
      })
      .get("/v1/admin/config/ratelimit/:tenant", async ({ request, principal, params }) => envelope(request, await admin.getRateLimit(principal, params.tenant)), {
        params: ScopeParams,
        response: { 200: "RateLimitEnvelope", ...errors },
        detail: detail("A tenant's rate limit", "The tenant's own override (or null) and the effective limit after `_global` and the environment. Needs admin:rate_limits."),
      })
      .put(
        "/v1/admin/config/ratelimit/:tenant",
        async ({ request, principal, params, body }) => envelope(request, await admin.putRateLimit(principal, requestInfo(request).requestId, params.tenant, body)),
        {
          params: ScopeParams,
          body: "RateLimitSettings",
          response: { 200: "RateLimitEnvelope", ...errors },
          detail: detail(
            "Set a tenant's rate limit",
            "Replaces the override of the tenant (or `_global`); audited; every replica applies it within AURUM_RUNTIME_CONFIG_POLL_MS. Needs admin:rate_limits.",
          ),
        },
      )
      .delete(
        "/v1/admin/config/ratelimit/:tenant",
        async ({ request, principal, params }) => envelope(request, await admin.putRateLimit(principal, requestInfo(request).requestId, params.tenant, null)),
        {
          params: ScopeParams,
          response: { 200: "RateLimitEnvelope", ...errors },
          detail: detail("Remove a tenant's rate-limit override", "The tenant inherits `_global` and the environment again; audited. Needs admin:rate_limits."),
        },
      )
      .get("/v1/admin/config/feature-flags/:tenant", async ({ request, principal, params }) => envelope(request, await admin.getFeatures(principal, params.tenant)), {
        params: ScopeParams,
        response: { 200: "FeatureFlagsEnvelope", ...errors },
        detail: detail(
          "A tenant's feature flags",
          "Every feature: effective state, where it came from (default, global, tenant), configuration and the tenant's own override. Needs admin:feature_flags.",
        ),
      })
      .put(
        "/v1/admin/config/feature-flags/:tenant/:feature",
        async ({ request, principal, params, body }) => envelope(request, await admin.putFeature(principal, requestInfo(request).requestId, params.tenant, params.feature, body)),
        {
          params: FeatureParams,
          body: "FeatureFlagUpdate",
          response: { 200: "FeatureFlagsEnvelope", ...errors, 404: ErrorResponse },
          detail: detail(
            "Set a feature flag",
            "Turns a feature on or off for the tenant (or `_global`), with its configuration (scenario_outputs only); audited. Needs admin:feature_flags.",
          ),
        },
      )
      .delete(
        "/v1/admin/config/feature-flags/:tenant/:feature",
        async ({ request, principal, params }) => envelope(request, await admin.putFeature(principal, requestInfo(request).requestId, params.tenant, params.feature, null)),
        {
          params: FeatureParams,
          response: { 200: "FeatureFlagsEnvelope", ...errors, 404: ErrorResponse },
          detail: detail("Remove a feature-flag override", "The tenant inherits `_global` and the environment again; audited. Needs admin:feature_flags."),
        },
      )
      .get(
        "/v1/admin/config/audit-log",
        async ({ request, principal, query }) => {
          const page = await admin.audit(principal, query);
          return pageEnvelope(request, page);
        },
        {
          query: AuditQuery,
          response: { 200: "AuditLogEnvelope", ...errors },
          detail: detail("Runtime config audit log", "Every change, newest first: who, when, request id, old and new value, version. Filter by `scope`; keyset-paged."),
        },
      )
  );
}
