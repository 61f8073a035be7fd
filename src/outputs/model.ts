/** Output and latest-metric query and response schemas. */
import { t } from "elysia";
import { JSON_LIMIT } from "../platform/json-page";
import { caseInsensitiveEnum, Meta, queryInteger } from "../platform/schema";
import { GROUP_BY, MetricSummary, MetricSummaryEnvelope } from "./metric-summary";
import { LatestMetric, OutputRowSchema } from "./row";

export const TENOR_TYPES = ["MONTHLY", "QUARTER", "CALENDAR"] as const;
export const OUTPUT_FORMATS = ["json", "csv", "ndjson"] as const;

const text = (description: string) => t.String({ minLength: 1, maxLength: 256, pattern: "^[^\\u0000]+$", error: "must be 1..256 characters (no NUL)", description });
const date = (description: string) => t.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", error: "must be a date YYYY-MM-DD", description, examples: ["2026-01-31"] });
const month = (description: string) =>
  t.String({ pattern: "^\\d{4}-\\d{2}(-\\d{2})?$", error: "must be a month YYYY-MM (or a date YYYY-MM-DD)", description, examples: ["2027-01"] });

/** Filters shared by /outputs and /metrics/latest. */
export const filters = {
  metric: t.Optional(text("Metric name: mid, baseline, uplift, policy_uplift, NPV, rec_cost, npv_per_bp, mid_per_gas (docs/model.md).")),
  metric_name: t.Optional(text("Alias of `metric` (the guide's spelling).")),
  curve_key: t.Optional(text("Curve key.")),
  tenor_type: t.Optional(caseInsensitiveEnum(TENOR_TYPES)),
  run_id: t.Optional(t.String({ format: "uuid", error: "must be a UUID", description: "A run of this scenario." })),
  asof_date: t.Optional(date("Exact as-of date; not with asof_date_from/asof_date_to.")),
  asof_date_from: t.Optional(date("As-of dates from this day (inclusive).")),
  asof_date_to: t.Optional(date("As-of dates up to this day (inclusive).")),
  contract_month: t.Optional(month("Exact contract month; not with contract_month_from/contract_month_to.")),
  contract_month_from: t.Optional(month("Contract months from this one (inclusive).")),
  contract_month_to: t.Optional(month("Contract months up to this one (inclusive).")),
  cursor: t.Optional(t.String({ maxLength: 2048, description: "`meta.next_cursor` of the previous page." })),
  tenant_id: t.Optional(t.String({ maxLength: 128 })),
};

/** The query parameters of a route that answers a JSON page or a CSV/NDJSON download (/outputs, /compare). */
export const pageOrDownload = {
  limit: t.Optional({
    ...queryInteger("limit", 1, 2_147_483_647),
    description: "JSON: rows per page, default 100, at most 1,000 (400 beyond). CSV/NDJSON: stop after this many rows; default: all.",
  }),
  format: t.Optional(
    caseInsensitiveEnum(OUTPUT_FORMATS, { default: "json", description: "json: a page in the envelope; csv and ndjson: a streamed download of every matching row." }),
  ),
  escape_formulas: t.Optional(
    t.Boolean({ description: "CSV only: prefix text cells that start with = + - @ tab or CR with a `'` so spreadsheets do not evaluate them. Default false." }),
  ),
};

export const OutputQuery = t.Object(
  {
    ...filters,
    run_id: t.Optional(t.String({ format: "uuid", error: "must be a UUID", description: "A run of this scenario; default: its latest SUCCEEDED run (named in `meta.run_id`)." })),
    ...pageOrDownload,
  },
  { additionalProperties: false },
);

export const LatestQuery = t.Object(
  {
    ...filters,
    run_id: t.Optional(t.String({ format: "uuid", error: "must be a UUID", description: "Only rows of this run compete for latest." })),
    limit: t.Optional(queryInteger("limit", 1, JSON_LIMIT.max, JSON_LIMIT.default)),
    group_by: t.Optional(
      caseInsensitiveEnum(GROUP_BY, {
        description:
          "`metric`: one row per metric summarising its latest values (count, min, max, mean, non_finite, latest_asof_date, run_ids; MetricSummary), keyset-paged by metric. Default: one row per curve, tenor, month and metric (LatestMetric).",
      }),
    ),
  },
  { additionalProperties: false },
);

export const OutputPageEnvelope = t.Object({ meta: Meta, data: t.Array(OutputRowSchema) });
export const LatestMetricsEnvelope = t.Object({ meta: Meta, data: t.Array(LatestMetric) });

export const outputModels = { OutputRow: OutputRowSchema, OutputPageEnvelope, LatestMetric, LatestMetricsEnvelope, MetricSummary, MetricSummaryEnvelope } as const;
export type OutputQueryInput = typeof OutputQuery.static;
export type LatestQueryInput = typeof LatestQuery.static;

/** The filter fields /outputs, /metrics/latest and /compare share (each names only those it accepts). */
export type FilterQuery = {
  tenant_id?: string | undefined;
  metric?: string | undefined;
  metric_name?: string | undefined;
  curve_key?: string | undefined;
  tenor_type?: string | undefined;
  run_id?: string | undefined;
  asof_date?: string | undefined;
  asof_date_from?: string | undefined;
  asof_date_to?: string | undefined;
  contract_month?: string | undefined;
  contract_month_from?: string | undefined;
  contract_month_to?: string | undefined;
};
