/** Run request and response schemas (`ScenarioRunOptions` as the guide names it). */
import { t } from "elysia";
import { caseInsensitiveEnum, Meta, queryInteger, Uuid } from "../platform/schema";
import { RunInputsSchema } from "./inputs";
import { RUN_STATES } from "./state";

export const PRIORITIES = ["LOW", "NORMAL", "HIGH", "CRITICAL"] as const;
export type Priority = (typeof PRIORITIES)[number];

export const ScenarioRunOptions = t.Object(
  {
    code_version: t.Optional(t.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$", default: "v1", description: "Model code version. Default v1." })),
    seed: t.Optional(t.Integer({ minimum: 0, maximum: 2_147_483_647, description: "Monte Carlo seed; default: the scenario's `parameters.seed`, else 42." })),
    priority: t.Optional(caseInsensitiveEnum(PRIORITIES, { default: "NORMAL" })),
    timeout_minutes: t.Optional(t.Integer({ minimum: 1, maximum: 1440, default: 60 })),
    max_retries: t.Optional(t.Integer({ minimum: 0, maximum: 10, default: 3 })),
    parameters: t.Optional(
      t.Record(t.String({ maxLength: 128 }), t.Unknown(), { description: "Overrides of the scenario's parameters for this run (ModelParameters are validated)." }),
    ),
    environment: t.Optional(t.Record(t.String({ maxLength: 64 }), t.String({ maxLength: 256 }), { description: "Labels for the executor; not part of the fingerprint." })),
    idempotency_key: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
    asof_date: t.Optional(
      t.String({
        pattern: "^\\d{4}-\\d{2}-\\d{2}$",
        description:
          "As-of date YYYY-MM-DD: each curve is read at its newest snapshot on or before it, and every output row is stamped with it. Default: the newest as-of date in the curve store.",
      }),
    ),
  },
  { additionalProperties: false },
);

const Spread = t.Object({ median: t.Number(), max: t.Number() });
export const BandStatsSchema = t.Object(
  {
    method: t.String({ description: "How the standard errors were estimated." }),
    mc_paths: t.Integer(),
    periods: t.Integer({ description: "Quarter and calendar bands estimated by Monte Carlo (monthly bands are closed-form: no sampling error)." }),
    se_lower: t.Object(Spread.properties, { description: "Standard error of the lower band quantile, as a fraction of the price: median and maximum over the periods." }),
    se_upper: t.Object(Spread.properties, { description: "Standard error of the upper band quantile, as a fraction of the price." }),
    rel_se_upper_half_width: t.Object(Spread.properties, { description: "Standard error of the upper quantile relative to the upper half-width (q_hi − 1)." }),
    worst: t.Union([t.Object({ curve_key: t.String(), tenor_label: t.String(), rel_se: t.Number() }), t.Null()]),
  },
  { title: "BandStats", description: "Monte Carlo accuracy of the run's quarter and calendar bands (docs/model.md §7.5)." },
);

export const Run = t.Object({
  id: Uuid,
  scenario_id: Uuid,
  tenant_id: t.String(),
  state: t.String(),
  priority: t.String(),
  code_version: t.String(),
  seed: t.Integer(),
  timeout_minutes: t.Integer(),
  max_retries: t.Integer(),
  parameters: t.Record(t.String(), t.Unknown()),
  environment: t.Record(t.String(), t.String()),
  idempotency_key: t.Union([t.String(), t.Null()]),
  input_hash: t.String(),
  run_key: t.String(),
  attempts: t.Integer(),
  progress: t.Number(),
  rows_written: t.Integer(),
  band_stats: t.Union([BandStatsSchema, t.Null()], {
    description: "Standard errors of the Monte Carlo band quantiles, written when the run succeeds (null before, and for runs finished before they were recorded).",
  }),
  cancel_requested: t.Boolean(),
  error: t.Union([t.Record(t.String(), t.Unknown()), t.Null()]),
  inputs: t.Union([RunInputsSchema, t.Null()], {
    description: "What the run computes from, fixed at trigger time (null only for runs triggered before this field existed, until a worker takes them).",
  }),
  requested_by: t.Union([t.String(), t.Null()]),
  trace_id: t.Union([t.String(), t.Null()], {
    description: "W3C trace id of the request that triggered the run (its `traceparent`, or a new one); every log line of the run carries it.",
  }),
  created_at: t.String(),
  queued_at: t.String(),
  started_at: t.Union([t.String(), t.Null()]),
  finished_at: t.Union([t.String(), t.Null()]),
  updated_at: t.String(),
});

export const RunEnvelope = t.Object({ meta: Meta, data: Run });
export const RunListEnvelope = t.Object({ meta: Meta, data: t.Array(Run) });

export const RunListQuery = t.Object(
  {
    limit: t.Optional(queryInteger("limit", 1, 200, 20)),
    cursor: t.Optional(t.String({ maxLength: 512 })),
    state: t.Optional(caseInsensitiveEnum(RUN_STATES)),
    created_after: t.Optional(t.String({ maxLength: 40 })),
    created_before: t.Optional(t.String({ maxLength: 40 })),
    tenant_id: t.Optional(t.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const RunStateChange = t.Object({ state: caseInsensitiveEnum(RUN_STATES), reason: t.Optional(t.String({ maxLength: 1000 })) }, { additionalProperties: false });

export const BulkRunRequest = t.Object({ runs: t.Array(ScenarioRunOptions, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false });
export const BulkRunResult = t.Object({
  index: t.Integer(),
  status: t.Union([t.Literal("created"), t.Literal("duplicate"), t.Literal("failed")]),
  run: t.Optional(Run),
  duplicate_of: t.Optional(t.String()),
  reason: t.Optional(t.String()),
  error: t.Optional(t.Unknown()),
});
export const BulkRunEnvelope = t.Object({ meta: Meta, data: t.Array(BulkRunResult) });

export const runModels = { ScenarioRunOptions, Run, RunEnvelope, RunListEnvelope, RunStateChange, BulkRunRequest, BulkRunEnvelope } as const;
export type RunOptionsInput = typeof ScenarioRunOptions.static;
export type RunRecord = typeof Run.static;
