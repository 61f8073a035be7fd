/**
 * The output store port, read side. Every read is ordered by the natural key within a run
 * (`metric, curve_key, tenor_type, contract_month`, the `scenario_output` primary key after
 * `run_id`) and resumes strictly after an `OutputKey`, so keyset pages never skip or repeat a row.
 *
 * The row, its key and the latest row are defined in row.ts. An adapter implements three calls:
 * - `page`: up to `limit` rows after a key (JSON pages, and the generic export below);
 * - `latest`: the latest row per natural key across a scenario's SUCCEEDED runs, computed by the store;
 * - `export`: every matching row, already encoded, as byte chunks. A store that can encode itself
 *   (Postgres `COPY ... TO STDOUT`) yields its bytes; a store that yields rows (PGlite, Trino) hands
 *   row batches to `encodeRows` (encoders.ts), e.g. `encodeRows(pagedRows(reader, ...), ...)`.
 *   Export chunks should be large (~64 KB): the HTTP layer writes each one as it comes.
 *   When `signal` aborts (the client went away), the adapter must end its upstream query promptly.
 */

import { type CompareRow, keyOf, type LatestRow, type OutputKey, type OutputRow } from "./row";

/** Validated filters; ranges are inclusive `YYYY-MM-DD` dates. `tenantId` is the scenario's tenant. */
export type OutputFilter = {
  tenantId: string;
  scenarioId: string;
  runId?: string;
  metric?: string;
  curveKey?: string;
  tenorType?: string;
  asofFrom?: string;
  asofTo?: string;
  monthFrom?: string;
  monthTo?: string;
};

/** Filters of one run's rows (page and export read a single run). */
export type RunFilter = OutputFilter & { runId: string };

export type ExportFormat = "csv" | "ndjson";

export type ExportRequest = {
  format: ExportFormat;
  /** At most this many rows; none: every matching row. */
  limit?: number;
  after?: OutputKey;
  /** CSV only: text cells starting with = + - @ tab or CR get a leading `'` (spreadsheet formula injection). */
  escapeFormulas: boolean;
  signal: AbortSignal;
};

/** What a plan's download asks the store for: its format, row limit, keyset position and CSV escaping. */
export function exportRequest(
  plan: { format: ExportFormat; limit: number | undefined; after: OutputKey | undefined; escapeFormulas: boolean },
  signal: AbortSignal,
): ExportRequest {
  return { format: plan.format, ...(plan.limit ? { limit: plan.limit } : {}), ...(plan.after ? { after: plan.after } : {}), escapeFormulas: plan.escapeFormulas, signal };
}

export interface OutputReader {
  page(filter: RunFilter, limit: number, after?: OutputKey): Promise<OutputRow[]>;
  latest(filter: OutputFilter, limit: number, after?: OutputKey): Promise<LatestRow[]>;
  /** The `latest` rollup summarised per metric (metric-summary.ts), metrics after `afterMetric`, in metric order. */
  latestByMetric(filter: OutputFilter, limit: number, afterMetric?: string): Promise<MetricSummaryRow[]>;
  /** CSV chunks start with the header row. Errors after the first chunk propagate to the caller. */
  export(filter: RunFilter, request: ExportRequest): AsyncIterable<Uint8Array>;
  /** Two runs' rows joined on the natural key in the store (`/compare`, compare.ts). */
  compare: CompareReader;
}

/** Every matching row as batches of keyset pages, for stores that return rows; stops when `signal` aborts. */
export async function* pagedRows(reader: Pick<OutputReader, "page">, filter: RunFilter, request: Pick<ExportRequest, "limit" | "after" | "signal">, pageRows = 5000) {
  let remaining = request.limit ?? Number.POSITIVE_INFINITY;
  let after = request.after;
  while (remaining > 0 && !request.signal.aborted) {
    const rows = await reader.page(filter, Math.min(pageRows, remaining), after);
    if (rows.length) yield rows;
    if (rows.length < Math.min(pageRows, remaining)) return;
    remaining -= rows.length;
    after = keyOf(rows[rows.length - 1] as OutputRow);
  }
}

/** One metric of the summary, as the store returns it (min/max/mean null when no value is finite). */
export type MetricSummaryRow = {
  metric: string;
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  non_finite: number;
  latest_asof_date: string;
  run_ids: number;
};

/**
 * What is compared: side a is `a` (its scenario, run and filters); side b is another run (of the
 * same tenant, any scenario, possibly the same run) read with the same filters, or `"baseline"`:
 * the no-driver baseline of run a itself (BASELINE_RULE).
 */
export type CompareSpec = { a: RunFilter; b: { scenarioId: string; runId: string } | "baseline" };

/** A comparison's download asks for what a run's does. */
export type CompareExportRequest = ExportRequest;

/** The store's half of a comparison: the same order, keyset and filters as `OutputReader.page`/`export`. */
export interface CompareReader {
  page(spec: CompareSpec, limit: number, after?: OutputKey): Promise<CompareRow[]>;
  /** CSV chunks start with the header row (COMPARE_COLUMNS). */
  export(spec: CompareSpec, request: CompareExportRequest): AsyncIterable<Uint8Array>;
}
