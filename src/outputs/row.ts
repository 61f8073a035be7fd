/**
 * The output row, defined once. Both stores hold the columns of OUTPUT_TABLE in this order
 * (`scenario_output` in ddl/postgres/003_runs.sql, iceberg.market.scenario_output in
 * trino/ddl/iceberg_market.sql, which adds `write_id`). The API row is the columns with an `api`
 * schema, in the same order: its TypeBox schema, its TS type, the CSV header, the NDJSON keys and
 * the readers' select lists all derive from here, so a column is added or changed in one place.
 *
 * Per column:
 * - `kind`: what its values are, which fixes how each dialect binds and selects it (sql.ts);
 * - `from`: where a writer takes the value: the run's metadata (`RunOutputMeta`, the same for
 *   every row of a write) or the engine's batch (`OutputColumns`, one value per row);
 * - `api`: its schema in the API row (JSON pages, exports); absent: stored only.
 */
import { type Static, type TSchema, t } from "elysia";
import { Uuid } from "../platform/schema";
import type { NonFiniteSpelling } from "./finite";

export type ColumnKind = "text" | "uuid" | "date" | "double" | "attribution" | "timestamp";

/** A stored double: a JSON number, or for NaN and ±Infinity (JSON has none) the strings "NaN", "Infinity", "-Infinity" (src/outputs/finite.ts). */
const nonFinite = () => [t.Literal("NaN"), t.Literal("Infinity"), t.Literal("-Infinity")];
const spelled = (description: string) => `${description} A number, or the string "NaN", "Infinity" or "-Infinity" when the stored value is not finite.`;
const double = (description: string) => t.Union([t.Number(), ...nonFinite()], { description: spelled(description) });
export const nullableDouble = (description: string) => t.Union([t.Number(), ...nonFinite(), t.Null()], { description: spelled(description) });

type Column = { kind: ColumnKind; from: "run" | "batch"; api?: TSchema };

export const OUTPUT_TABLE = {
  tenant_id: { kind: "text", from: "run" },
  scenario_id: { kind: "uuid", from: "run", api: Uuid },
  run_id: { kind: "uuid", from: "run", api: Uuid },
  asof_date: { kind: "date", from: "run", api: t.String() },
  curve_key: { kind: "text", from: "batch", api: t.String() },
  tenor_type: { kind: "text", from: "batch", api: t.String() },
  contract_month: { kind: "date", from: "batch", api: t.String() },
  tenor_label: { kind: "text", from: "batch", api: t.String() },
  metric: { kind: "text", from: "batch", api: t.String() },
  value: { kind: "double", from: "batch", api: double("The metric's value.") },
  band_lower: { kind: "double", from: "batch", api: nullableDouble("Lower band.") },
  band_upper: { kind: "double", from: "batch", api: nullableDouble("Upper band.") },
  attribution: {
    kind: "attribution",
    from: "batch",
    api: t.Union([t.Record(t.String(), double("A driver's contribution.")), t.Null()], {
      description: 'Contributions by driver (`{"policy:0": 1.5}`), summing to `value`; null where not meaningful.',
    }),
  },
  version_hash: { kind: "text", from: "run", api: t.String() },
  computed_ts: { kind: "timestamp", from: "run" },
} as const satisfies Record<string, Column>;

type Table = typeof OUTPUT_TABLE;
export type OutputColumn = keyof Table;
type ApiColumn = { [K in OutputColumn]: Table[K] extends { api: TSchema } ? K : never }[OutputColumn];
type RunColumn = { [K in OutputColumn]: Table[K]["from"] extends "run" ? K : never }[OutputColumn];
type BatchColumn = Exclude<OutputColumn, RunColumn>;

const columns = Object.keys(OUTPUT_TABLE) as OutputColumn[];
const isApi = (c: OutputColumn): c is ApiColumn => "api" in OUTPUT_TABLE[c];

/** Every stored column, in table order. */
export const TABLE_COLUMNS: readonly OutputColumn[] = columns;
/** The API row's columns, in order: CSV header, NDJSON keys, JSON fields. */
export const OUTPUT_COLUMNS: readonly ApiColumn[] = columns.filter(isApi);
/** The columns a write takes from the run's metadata, and those it takes from the engine's batch (each in table order). */
export const RUN_COLUMNS = columns.filter((c): c is RunColumn => OUTPUT_TABLE[c].from === "run");
export const BATCH_COLUMNS = columns.filter((c): c is BatchColumn => OUTPUT_TABLE[c].from === "batch");

type Field<C extends string> = C extends `${infer H}_${infer T}` ? `${H}${Capitalize<Field<T>>}` : C;
/** A column's key in the writers' camelCase records (RunOutputMeta, OutputColumns): `band_lower` → `bandLower`. */
export const field = <C extends OutputColumn>(c: C) => c.replace(/_(.)/g, (_, ch: string) => ch.toUpperCase()) as Field<C>;

export const OutputRowSchema = t.Object(Object.fromEntries(OUTPUT_COLUMNS.map((c) => [c, OUTPUT_TABLE[c].api])) as { [K in ApiColumn]: Table[K]["api"] });

/** A value as the store returns it: numbers, not the JSON spellings of non-finite ones (those are made for JSON pages, finite.ts). */
type Stored<T> = T extends NonFiniteSpelling ? never : T extends Record<string, infer V> ? Record<string, Exclude<V, NonFiniteSpelling>> : T;
/** A row type from its API schema's static type, its doubles as the store returns them. */
export type StoredRow<S> = { [K in keyof S]: Stored<S[K]> };
/** One output row as a store returns it; ids are UUID strings and dates `YYYY-MM-DD`. */
export type OutputRow = StoredRow<Static<typeof OutputRowSchema>>;

/** The natural key of a row within a run: the read order, the keyset, the join key of /compare (the primary key after `run_id`). */
export const KEY_COLUMNS = ["metric", "curve_key", "tenor_type", "contract_month"] as const satisfies readonly ApiColumn[];
/** Position in the read order; a page resumes strictly after it. */
export type OutputKey = Pick<OutputRow, (typeof KEY_COLUMNS)[number]>;
export const keyOf = (row: OutputKey): OutputKey => Object.fromEntries(KEY_COLUMNS.map((c) => [c, row[c]])) as OutputKey;

/** /metrics/latest: the latest value of one natural key, with the run and as-of date it came from (the rows' own fields). */
export const LATEST_COLUMNS = [
  "curve_key",
  "tenor_type",
  "contract_month",
  "tenor_label",
  "metric",
  "value",
  "band_lower",
  "band_upper",
  "run_id",
  "asof_date",
] as const satisfies readonly ApiColumn[];
export const LatestMetric = t.Pick(OutputRowSchema, LATEST_COLUMNS);
export type LatestRow = Pick<OutputRow, (typeof LATEST_COLUMNS)[number]>;

/** One natural key of the comparison (the row's own key and label); a side without the key has null there (a full outer join). */
export const CompareRowSchema = t.Object({
  ...t.Pick(OutputRowSchema, ["curve_key", "tenor_type", "contract_month", "tenor_label", "metric"]).properties,
  a: nullableDouble("The value in run a (`meta.run_id`); null when only run b has this key."),
  b: nullableDouble("The value in run b (`meta.with_run_id`), or the baseline value (`with=baseline`); null when missing."),
  delta: nullableDouble("a − b; null when a or b is null."),
  delta_pct: nullableDouble("(a − b) / |b| (a ratio: 0.05 is 5 %); null when a or b is null or b is 0."),
});

/** One natural key of the comparison, as the store returns it (its schema says what each column holds). */
export type CompareRow = StoredRow<Static<typeof CompareRowSchema>>;

export const COMPARE_COLUMNS = Object.keys(CompareRowSchema.properties) as (keyof CompareRow)[];
