/**
 * Feature flags and rate-limit settings resolved per tenant (tenant override → `_global` override
 * → environment), the checks other features call (`flags.require`), and the admin use cases behind
 * /v1/admin/config: validated, audited writes that every replica picks up on its next poll.
 */
import type { Config } from "../config";
import { authorize, hasPermission, type Permission, type Principal } from "../platform/auth";
import { keysetPage } from "../platform/cursor";
import { AppError, badRequest } from "../platform/errors";
import { JSON_LIMIT } from "../platform/json-page";
import type { LimitLayer, PrefixRule } from "../ratelimit/policy";
import {
  FEATURE_ALIASES,
  FEATURE_CONFIG_KEYS,
  FEATURES,
  type FeatureFlagInput,
  type FeatureName,
  type FeatureViewOutput,
  GLOBAL_SCOPE,
  type RateLimitSettingsInput,
} from "./model";
import type { ConfigKind, ConfigRepo } from "./repo";
import type { RuntimeConfig, Snapshot } from "./runtime";

/** The settings this module reads; missing ones take their documented defaults. */
export type FlagsConfig = Pick<
  Config,
  "rateLimitEnabled" | "rateLimitRps" | "rateLimitBurst" | "rateLimitOverrides" | "scenarioOutputsEnabled" | "outputExportsMax" | "runtimeConfigPollMs"
>;

export type OutputLimits = { max_page_size: number; max_export_rows: number | null; max_concurrent_exports: number };
type Source = "default" | "global" | "tenant";

/** What a tenant may do right now: each feature on or off, and the output limits. */
export type TenantFlags = { features: Record<FeatureName, { enabled: boolean; source: Source }>; outputLimits: OutputLimits };

const toRule = (p: { prefix: string; requests_per_second: number; burst: number }): PrefixRule => ({ prefix: p.prefix, rps: p.requests_per_second, burst: p.burst });
const fromRule = (r: PrefixRule) => ({ prefix: r.prefix, requests_per_second: r.rps, burst: r.burst });
const AUDIT_CURSOR = { i: /^\d{1,19}$/ };

/** The settings from the environment: the last layer under the global and tenant overrides. */
type EnvDefaults = { layer: LimitLayer; features: Record<FeatureName, boolean>; limits: OutputLimits };

const layer = (s: RateLimitSettingsInput | undefined): LimitLayer | undefined =>
  s && { enabled: s.enabled, rps: s.requests_per_second, burst: s.burst, prefixes: (s.prefixes ?? []).map(toRule) };

function resolveFeatures(snap: Snapshot, env: EnvDefaults, tenantId: string | null): TenantFlags {
  const tenant = tenantId === null ? undefined : snap.features.get(tenantId);
  const global = snap.features.get(GLOBAL_SCOPE);
  const features = {} as TenantFlags["features"];
  for (const name of FEATURES) {
    const own = tenant?.get(name);
    const shared = global?.get(name);
    features[name] = own ? { enabled: own.enabled, source: "tenant" } : shared ? { enabled: shared.enabled, source: "global" } : { enabled: env.features[name], source: "default" };
  }
  const pick = <K extends keyof OutputLimits>(key: K): OutputLimits[K] =>
    (tenant?.get("scenario_outputs")?.configuration?.[key] ?? global?.get("scenario_outputs")?.configuration?.[key] ?? env.limits[key]) as OutputLimits[K];
  return { features, outputLimits: { max_page_size: pick("max_page_size"), max_export_rows: pick("max_export_rows"), max_concurrent_exports: pick("max_concurrent_exports") } };
}

function rateLimitView(snap: Snapshot, env: EnvDefaults, scope: string) {
  const own = snap.rateLimits.get(scope);
  const layers = [scope === GLOBAL_SCOPE ? undefined : layer(own), layer(snap.rateLimits.get(GLOBAL_SCOPE)), env.layer].filter((l): l is LimitLayer => !!l);
  const pickFirst = <K extends keyof LimitLayer>(k: K) => layers.find((l) => l[k] !== undefined)?.[k] as NonNullable<LimitLayer[K]>;
  const source: Source = own ? (scope === GLOBAL_SCOPE ? "global" : "tenant") : snap.rateLimits.has(GLOBAL_SCOPE) ? "global" : "default";
  return {
    scope,
    override: own ?? null,
    effective: {
      enabled: pickFirst("enabled"),
      requests_per_second: pickFirst("rps"),
      burst: pickFirst("burst"),
      prefixes: layers.flatMap((l) => (l.prefixes ?? []).map(fromRule)),
      source,
    },
    version: Math.max(snap.version, 0),
  };
}

function featureView(snap: Snapshot, env: EnvDefaults, scope: string) {
  const resolved = resolveFeatures(snap, env, scope === GLOBAL_SCOPE ? null : scope);
  const own = snap.features.get(scope);
  const features: Record<string, FeatureViewOutput> = {};
  for (const name of FEATURES) {
    const f = resolved.features[name];
    features[name] = {
      enabled: f.enabled,
      source: f.source,
      configuration: name === "scenario_outputs" ? resolved.outputLimits : {},
      override: own?.get(name) ?? null,
    };
  }
  return { scope, features, version: Math.max(snap.version, 0) };
}

export function createFlags(deps: { runtime: RuntimeConfig; repo: ConfigRepo; config: FlagsConfig }) {
  const { runtime, repo, config } = deps;
  const envLayer: LimitLayer = { enabled: config.rateLimitEnabled, rps: config.rateLimitRps, burst: config.rateLimitBurst, prefixes: config.rateLimitOverrides };
  const envFeatures: Record<FeatureName, boolean> = { scenario_outputs: config.scenarioOutputsEnabled, csv_export: true, bulk_runs: true };
  const envLimits: OutputLimits = { max_page_size: JSON_LIMIT.max, max_export_rows: null, max_concurrent_exports: config.outputExportsMax };
  const env: EnvDefaults = { layer: envLayer, features: envFeatures, limits: envLimits };

  async function change(p: Principal, perm: Permission, requestId: string, scope: string, kind: ConfigKind, name: string, value: unknown) {
    authorize(p, perm);
    await repo.write({ scope, kind, name, value, actor: p.subject, requestId });
    return runtime.refresh();
  }

  /** The flags and output limits of a tenant (null: the local operator, who sees the global values). */
  async function get(tenantId: string | null): Promise<TenantFlags> {
    return resolveFeatures(await runtime.current(), env, tenantId);
  }

  return {
    get,

    /**
     * Throws unless `feature` is on for the tenant: 403 FEATURE_NOT_ENTITLED when the tenant's own
     * override turned it off, 503 FEATURE_DISABLED when it is off for everyone. `details.flag` names it.
     */
    async require(tenantId: string | null, feature: FeatureName): Promise<TenantFlags> {
      const flags = await get(tenantId);
      const f = flags.features[feature];
      if (f.enabled) return flags;
      if (f.source === "tenant") throw new AppError("FEATURE_NOT_ENTITLED", `feature ${feature} is not enabled for tenant ${tenantId}`, { flag: feature });
      const hint = feature === "scenario_outputs" && f.source === "default" ? " (AURUM_API_SCENARIO_OUTPUTS_ENABLED=0)" : "";
      throw new AppError("FEATURE_DISABLED", `feature ${feature} is disabled on this server${hint}`, { flag: feature });
    },

    /** Rate-limit layers for a request's tenant, nearest first. */
    async rateLimitLayers(tenantId: string | null): Promise<LimitLayer[]> {
      const snap = await runtime.current();
      const own = tenantId === null ? undefined : layer(snap.rateLimits.get(tenantId));
      return [own, layer(snap.rateLimits.get(GLOBAL_SCOPE)), envLayer].filter((l): l is LimitLayer => !!l);
    },

    admin: {
      async overview(p: Principal) {
        authorizeAdmin(p);
        const snap = await runtime.current();
        const tenants = new Set([...snap.rateLimits.keys(), ...snap.features.keys()].filter((s) => s !== GLOBAL_SCOPE));
        return {
          version: Math.max(snap.version, 0),
          rate_limit: rateLimitView(snap, env, GLOBAL_SCOPE),
          feature_flags: featureView(snap, env, GLOBAL_SCOPE),
          tenants: [...tenants].sort(),
        };
      },
      async getRateLimit(p: Principal, scope: string) {
        authorize(p, "admin:rate_limits");
        return rateLimitView(await runtime.current(), env, scope);
      },
      async putRateLimit(p: Principal, requestId: string, scope: string, body: RateLimitSettingsInput | null) {
        authorize(p, "admin:rate_limits");
        if (body?.prefixes) {
          const seen = new Set<string>();
          body.prefixes.forEach((rule, i) => {
            if (seen.has(rule.prefix)) throw badRequest("prefixes repeat", [{ field: `/prefixes/${i}/prefix`, location: "body", message: `repeats ${rule.prefix}` }]);
            seen.add(rule.prefix);
          });
        }
        return rateLimitView(await change(p, "admin:rate_limits", requestId, scope, "ratelimit", "", body), env, scope);
      },
      async getFeatures(p: Principal, scope: string) {
        authorize(p, "admin:feature_flags");
        return featureView(await runtime.current(), env, scope);
      },
      async putFeature(p: Principal, requestId: string, scope: string, rawName: string, body: FeatureFlagInput | null) {
        authorize(p, "admin:feature_flags");
        const name = featureName(rawName);
        const allowed = FEATURE_CONFIG_KEYS[name];
        const extra = Object.keys(body?.configuration ?? {}).filter((k) => !allowed.includes(k));
        if (extra.length) {
          throw badRequest(
            `${name} takes ${allowed.length ? `only ${allowed.join(", ")}` : "no configuration"}`,
            extra.map((k) => ({ field: `/configuration/${k}`, location: "body" as const, message: `not a setting of ${name}` })),
          );
        }
        return featureView(await change(p, "admin:feature_flags", requestId, scope, "feature", name, body), env, scope);
      },
      async audit(p: Principal, q: { scope?: string | undefined; limit?: number | undefined; cursor?: string | undefined }) {
        authorizeAdmin(p);
        const limit = q.limit ?? 50;
        const page = await keysetPage({
          cursor: q.cursor,
          limit,
          filters: { scope: q.scope ?? "*" },
          shape: AUDIT_CURSOR,
          fetch: (before) => repo.audit({ scope: q.scope, limit: limit + 1, beforeId: before?.i }),
          keyOf: (row) => ({ i: row.id }),
        });
        return { ...page, limit };
      },
    },
  };
}

export type Flags = ReturnType<typeof createFlags>;
/** What other features need: the resolved flags of a tenant, and a check that throws when a feature is off. */
export type FeatureGate = Pick<Flags, "get" | "require">;

/** Any of the admin permissions (reads of the overview and the audit log need no more). */
export function authorizeAdmin(p: Principal): void {
  if (!ADMIN_PERMISSIONS.some((perm) => hasPermission(p, perm))) throw new AppError("FORBIDDEN", `missing permission ${ADMIN_PERMISSIONS.join(" or ")}`);
}

const ADMIN_PERMISSIONS: Permission[] = ["admin:rate_limits", "admin:feature_flags"];

/** A feature's canonical name from a path (any case; the guide's `ScenarioOutputFeature` too); else 404. */
export function featureName(raw: string): FeatureName {
  const key = raw.toLowerCase();
  // A Map and a list, never an object lookup: `__proto__` or `constructor` is an unknown feature, not Object.prototype's.
  const name = (FEATURES as readonly string[]).includes(key) ? (key as FeatureName) : FEATURE_ALIASES.get(key);
  if (!name) throw new AppError("NOT_FOUND", `unknown feature ${raw}; one of ${FEATURES.join(", ")}`);
  return name;
}
