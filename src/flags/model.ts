/** Runtime-config schemas (TypeBox via Elysia's `t`): rate-limit settings, feature flags, audit entries. */
import { t } from "elysia";
import { JSON_LIMIT } from "../platform/json-page";
import { Meta, queryInteger } from "../platform/schema";
import { MAX_RPS, MIN_RPS } from "../ratelimit/gcra";

/** The scope of settings for every tenant; a tenant id can never start with `_`. */
export const GLOBAL_SCOPE = "_global";

export const FEATURES = ["scenario_outputs", "csv_export", "bulk_runs"] as const;
export type FeatureName = (typeof FEATURES)[number];

/** Other names accepted in paths: the guide calls the outputs flag `ScenarioOutputFeature`. */
export const FEATURE_ALIASES: ReadonlyMap<string, FeatureName> = new Map([["scenariooutputfeature", "scenario_outputs"]]);

/** Which `configuration` keys each feature takes. */
export const FEATURE_CONFIG_KEYS: Record<FeatureName, readonly string[]> = {
  scenario_outputs: ["max_page_size", "max_export_rows", "max_concurrent_exports"],
  csv_export: [],
  bulk_runs: [],
};

export const Scope = t.String({
  pattern: "^(?:_global|[A-Za-z0-9][A-Za-z0-9._:@-]{0,127})$",
  error: "must be a tenant id or _global",
  description: "A tenant id, or `_global` for the defaults of every tenant.",
});

const Rps = t.Number({
  minimum: MIN_RPS,
  maximum: MAX_RPS,
  error: `must be a number from ${MIN_RPS} (one request per 1000 s) to ${MAX_RPS}`,
  description: `Sustained requests per second, from ${MIN_RPS} to ${MAX_RPS}.`,
});
const Burst = t.Integer({ minimum: 1, maximum: 1_000_000, error: "must be an integer from 1 to 1000000", description: "Bucket size: requests allowed at once." });
const Prefix = t.String({
  maxLength: 256,
  pattern: "^/[A-Za-z0-9._~:@!$&'()*+,;=%/-]*$",
  error: "must be a path starting with /",
  description: "Route prefix matched by whole segments; `*` matches one segment (`/v1/scenarios/*/outputs`).",
});

export const PrefixLimit = t.Object({ prefix: Prefix, requests_per_second: Rps, burst: Burst }, { additionalProperties: false });

export const RateLimitSettings = t.Object(
  {
    requests_per_second: Rps,
    burst: Burst,
    enabled: t.Boolean({ error: "must be a boolean", description: "false: requests of this scope are not limited." }),
    prefixes: t.Optional(t.Array(PrefixLimit, { maxItems: 100, description: "Per-prefix limits; the longest matching prefix wins." })),
  },
  { additionalProperties: false },
);
export type RateLimitSettingsInput = typeof RateLimitSettings.static;

export const FeatureConfiguration = t.Object(
  {
    max_page_size: t.Optional(
      t.Integer({ minimum: 1, maximum: JSON_LIMIT.max, error: `must be an integer from 1 to ${JSON_LIMIT.max}`, description: "Largest `limit` of a JSON page." }),
    ),
    max_export_rows: t.Optional(
      t.Integer({ minimum: 1, maximum: 1_000_000_000, error: "must be an integer from 1 to 1000000000", description: "Most rows one CSV/NDJSON export sends." }),
    ),
    max_concurrent_exports: t.Optional(
      t.Integer({ minimum: 1, maximum: 1000, error: "must be an integer from 1 to 1000", description: "Exports of one tenant streaming at once in one API process." }),
    ),
  },
  { additionalProperties: false, description: "Only scenario_outputs takes configuration." },
);
export type FeatureConfigurationInput = typeof FeatureConfiguration.static;

export const FeatureFlagUpdate = t.Object({ enabled: t.Boolean({ error: "must be a boolean" }), configuration: t.Optional(FeatureConfiguration) }, { additionalProperties: false });
export type FeatureFlagInput = typeof FeatureFlagUpdate.static;

const Source = t.Union([t.Literal("default"), t.Literal("global"), t.Literal("tenant")], { description: "The layer the value came from." });

const RateLimitView = t.Object({
  scope: t.String(),
  override: t.Union([RateLimitSettings, t.Null()], { description: "This scope's own setting; null: inherited." }),
  effective: t.Object({ enabled: t.Boolean(), requests_per_second: t.Number(), burst: t.Integer(), prefixes: t.Array(PrefixLimit), source: Source }),
  version: t.Integer(),
});

const FeatureView = t.Object({
  enabled: t.Boolean(),
  source: Source,
  configuration: t.Record(t.String(), t.Union([t.Integer(), t.Null()])),
  override: t.Union([FeatureFlagUpdate, t.Null()]),
});

const FeatureFlagsView = t.Object({ scope: t.String(), features: t.Record(t.String(), FeatureView), version: t.Integer() });
export type FeatureViewOutput = typeof FeatureView.static;

const AuditEntry = t.Object({
  id: t.String(),
  changed_at: t.String(),
  actor: t.String(),
  request_id: t.Union([t.String(), t.Null()]),
  scope: t.String(),
  kind: t.String(),
  name: t.String(),
  old_value: t.Unknown(),
  new_value: t.Unknown(),
  version: t.Integer(),
});

export const AuditQuery = t.Object(
  { scope: t.Optional(Scope), limit: t.Optional(queryInteger("limit", 1, 200, 50)), cursor: t.Optional(t.String({ maxLength: 200 })) },
  { additionalProperties: false },
);

export const configModels = {
  RateLimitSettings,
  FeatureFlagUpdate,
  RateLimitEnvelope: t.Object({ meta: Meta, data: RateLimitView }),
  FeatureFlagsEnvelope: t.Object({ meta: Meta, data: FeatureFlagsView }),
  AuditLogEnvelope: t.Object({ meta: Meta, data: t.Array(AuditEntry) }),
  RuntimeConfigEnvelope: t.Object({
    meta: Meta,
    data: t.Object({ version: t.Integer(), rate_limit: RateLimitView, feature_flags: FeatureFlagsView, tenants: t.Array(t.String(), { description: "Tenants with overrides." }) }),
  }),
} as const;
