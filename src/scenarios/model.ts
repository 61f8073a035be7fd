/** Scenario request and response schemas (TypeBox via Elysia's `t`), registered by name for OpenAPI. */
import { t } from "elysia";
import { caseInsensitiveEnum, Meta, PageMeta, queryInteger, Uuid } from "../platform/schema";

export const DRIVER_TYPES = ["policy", "load_growth", "fuel_curve", "fleet_change"] as const;
export type DriverType = (typeof DRIVER_TYPES)[number];
export const SCENARIO_STATUSES = ["draft", "active", "archived"] as const;
export type ScenarioStatus = (typeof SCENARIO_STATUSES)[number];

export const LIMITS = { name: 200, description: 4000, tags: 50, tag: 64, assumptions: 100, jsonBytes: 64 * 1024 } as const;

const Name = t.String({ minLength: 1, maxLength: LIMITS.name, pattern: "\\S", error: `must be 1..${LIMITS.name} characters, not blank` });
const Tag = t.String({ minLength: 1, maxLength: LIMITS.tag, pattern: "^[^,\\s][^,]*$", error: `must be 1..${LIMITS.tag} characters without commas` });
const JsonObject = t.Record(t.String({ maxLength: 128 }), t.Unknown(), { error: "must be a JSON object" });

export const Assumption = t.Object(
  {
    driver_type: caseInsensitiveEnum(DRIVER_TYPES, { description: "Kind of driver." }),
    payload: t.Record(t.String({ maxLength: 128 }), t.Unknown(), {
      error: "must be a JSON object",
      description: "Validated per driver_type: PolicyDriver, LoadGrowthDriver, FuelCurveDriver or FleetChangeDriver (see components).",
    }),
    version: t.Optional(t.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);

export const ScenarioCreate = t.Object(
  {
    tenant_id: t.Optional(t.String({ minLength: 1, maxLength: 128, description: "Defaults to the caller's tenant; must match it when both are known." })),
    name: Name,
    description: t.Optional(t.Union([t.String({ maxLength: LIMITS.description }), t.Null()])),
    status: t.Optional(caseInsensitiveEnum(SCENARIO_STATUSES, { default: "active" })),
    assumptions: t.Optional(t.Array(Assumption, { maxItems: LIMITS.assumptions })),
    parameters: t.Optional(JsonObject),
    tags: t.Optional(t.Array(Tag, { maxItems: LIMITS.tags })),
  },
  { additionalProperties: false, description: "Unknown fields are rejected with a 400." },
);

export const ScenarioPatch = t.Object(
  {
    name: t.Optional(Name),
    description: t.Optional(t.Union([t.String({ maxLength: LIMITS.description }), t.Null()])),
    status: t.Optional(caseInsensitiveEnum(SCENARIO_STATUSES)),
    assumptions: t.Optional(t.Array(Assumption, { maxItems: LIMITS.assumptions })),
    parameters: t.Optional(JsonObject),
    tags: t.Optional(t.Array(Tag, { maxItems: LIMITS.tags })),
    version: t.Optional(t.Integer({ minimum: 1, description: "Expected current version; a mismatch is a 409." })),
  },
  { additionalProperties: false, description: "Fields to change. `If-Match` (ETag) or `version` guards against concurrent edits." },
);

export const Scenario = t.Object({
  id: Uuid,
  tenant_id: t.String(),
  name: t.String(),
  description: t.Union([t.String(), t.Null()]),
  status: t.String(),
  assumptions: t.Array(t.Object({ driver_type: t.String(), payload: t.Record(t.String(), t.Unknown()), version: t.Optional(t.String()) })),
  parameters: t.Record(t.String(), t.Unknown()),
  tags: t.Array(t.String()),
  version: t.Integer(),
  created_by: t.Union([t.String(), t.Null()]),
  created_at: t.String({ format: "date-time" }),
  updated_at: t.String({ format: "date-time" }),
});

export const ScenarioListQuery = t.Object(
  {
    limit: t.Optional(queryInteger("limit", 1, 200, 20)),
    cursor: t.Optional(t.String({ maxLength: 512, description: "Opaque `meta.next_cursor` of the previous page." })),
    name: t.Optional(t.String({ minLength: 1, maxLength: LIMITS.name, description: "Case-insensitive substring of the name." })),
    tag: t.Optional(t.String({ minLength: 1, maxLength: LIMITS.tag })),
    status: t.Optional(caseInsensitiveEnum(SCENARIO_STATUSES)),
    created_after: t.Optional(t.String({ maxLength: 40, description: "ISO 8601 date or date-time (inclusive)." })),
    created_before: t.Optional(t.String({ maxLength: 40, description: "ISO 8601 date or date-time (exclusive)." })),
    tenant_id: t.Optional(t.String({ maxLength: 128, description: "Local mode: scope to this tenant." })),
  },
  { additionalProperties: false },
);

export const ScenarioEnvelope = t.Object({ meta: Meta, data: Scenario });
export const ScenarioListEnvelope = t.Object({
  meta: PageMeta,
  data: t.Array(Scenario),
});

export const scenarioModels = {
  Scenario,
  ScenarioCreate,
  ScenarioPatch,
  ScenarioEnvelope,
  ScenarioListEnvelope,
} as const;

export type ScenarioCreateInput = typeof ScenarioCreate.static;
export type ScenarioPatchInput = typeof ScenarioPatch.static;
export type ScenarioListInput = typeof ScenarioListQuery.static;
export type ScenarioRecord = typeof Scenario.static;
