/**
 * Scenario comparison (`GET /v1/scenarios/{id}/compare`), the store-independent part: what a
 * comparison row is, which run rows stand on side b, the baseline rule, and the CSV/NDJSON
 * encoders for stores that return rows. The join itself runs in the store (compare-sql.ts): a
 * FULL OUTER JOIN of the two runs' rows on the natural key, ordered by it, so pages are keyset
 * pages and exports stream in flat memory.
 */

import { csvNumber, csvText, jsonNumber } from "./encoders";
import type { CompareExportRequest, CompareReader, CompareSpec, ExportFormat } from "./reader";
import { COMPARE_COLUMNS, type CompareRow } from "./row";

/**
 * `with=baseline`: the value the same run would have with no drivers, per metric.
 * - Price levels, `mid` and `baseline`: b = the run's own `baseline` row of the same curve, tenor and
 *   month (the engine stores the no-driver price; `baseline` against itself gives delta 0).
 * - Driver effects, zero by definition without drivers: `uplift`, `policy_uplift`, `NPV` (the value
 *   of the price change), `rec_cost` (compliance cost of the scenario's policies), `npv_per_bp`
 *   (the derivative of an NPV that is 0 at every rate), and any metric whose name ends in `_uplift`:
 *   b = 0, so delta = a and delta_pct is null.
 * - Any other metric (e.g. a sensitivity such as `mid_per_gas`, whose no-driver value is not zero
 *   and is not stored): b = null, so delta and delta_pct are null; the row is still listed with a.
 */
export const BASELINE_PRICE_METRICS = ["mid", "baseline"] as const;
export const BASELINE_ZERO_METRICS = ["uplift", "policy_uplift", "NPV", "rec_cost", "npv_per_bp"] as const;
export const BASELINE_ZERO_SUFFIX = "_uplift";

/** The rule in JS, for tests and docs: "price" (b = baseline row), "zero" (b = 0) or "unknown" (b = null). */
export function baselineKind(metric: string): "price" | "zero" | "unknown" {
  if ((BASELINE_PRICE_METRICS as readonly string[]).includes(metric)) return "price";
  if ((BASELINE_ZERO_METRICS as readonly string[]).includes(metric) || (metric.length > BASELINE_ZERO_SUFFIX.length && metric.endsWith(BASELINE_ZERO_SUFFIX))) return "zero";
  return "unknown";
}

/**
 * The SQL of the rule (Postgres and Trino alike): `metricCol` is the row's metric, `baselineCol` the
 * joined `baseline` value (null when the run has none for the key). `quote` writes a string literal.
 */
export function baselineCase(metricCol: string, baselineCol: string, quote: (v: string) => string): string {
  const list = (xs: readonly string[]) => xs.map(quote).join(", ");
  const n = BASELINE_ZERO_SUFFIX.length;
  return (
    `case when ${metricCol} in (${list(BASELINE_PRICE_METRICS)}) then ${baselineCol} ` +
    `when ${metricCol} in (${list(BASELINE_ZERO_METRICS)}) or (length(${metricCol}) > ${n} and substr(${metricCol}, length(${metricCol}) - ${n - 1}) = ${quote(BASELINE_ZERO_SUFFIX)}) then 0e0 ` +
    "else null end"
  );
}

/** delta and delta_pct from the columns `a` and `b` (SQL, Postgres and Trino alike). */
export const DELTA_SQL = "a - b as delta, case when a is null or b is null or b = 0 then null else (a - b) / abs(b) end as delta_pct";

const json = JSON.stringify;

export const COMPARE_CSV_HEADER = `${COMPARE_COLUMNS.join(",")}\n`;

export function compareCsvRow(r: CompareRow, escapeFormulas = false): string {
  const text = (v: string) => csvText(v, escapeFormulas);
  return `${text(r.curve_key)},${text(r.tenor_type)},${r.contract_month},${text(r.tenor_label)},${text(r.metric)},${csvNumber(r.a)},${csvNumber(r.b)},${csvNumber(r.delta)},${csvNumber(r.delta_pct)}\n`;
}

export function compareNdjsonRow(r: CompareRow): string {
  return `{"curve_key":${json(r.curve_key)},"tenor_type":${json(r.tenor_type)},"contract_month":"${r.contract_month}","tenor_label":${json(r.tenor_label)},"metric":${json(r.metric)},"a":${jsonNumber(r.a)},"b":${jsonNumber(r.b)},"delta":${jsonNumber(r.delta)},"delta_pct":${jsonNumber(r.delta_pct)}}\n`;
}

/** Row batches → one UTF-8 chunk per batch; CSV starts with the header row even when there are no rows. */
export async function* encodeCompareRows(batches: AsyncIterable<CompareRow[]>, format: ExportFormat, escapeFormulas = false): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let header = format === "csv" ? COMPARE_CSV_HEADER : "";
  for await (const rows of batches) {
    let text = header;
    header = "";
    if (format === "csv") for (const r of rows) text += compareCsvRow(r, escapeFormulas);
    else for (const r of rows) text += compareNdjsonRow(r);
    yield encoder.encode(text);
  }
  if (header) yield encoder.encode(header);
}

/** Every matching row as batches of keyset pages, for stores that return rows; stops when `signal` aborts. */
export async function* pagedCompareRows(
  reader: Pick<CompareReader, "page">,
  spec: CompareSpec,
  request: Pick<CompareExportRequest, "limit" | "after" | "signal">,
  pageRows = 5000,
) {
  let remaining = request.limit ?? Number.POSITIVE_INFINITY;
  let after = request.after;
  while (remaining > 0 && !request.signal.aborted) {
    const rows = await reader.page(spec, Math.min(pageRows, remaining), after);
    if (rows.length) yield rows;
    if (rows.length < Math.min(pageRows, remaining)) return;
    remaining -= rows.length;
    const last = rows[rows.length - 1] as CompareRow;
    after = { metric: last.metric, curve_key: last.curve_key, tenor_type: last.tenor_type, contract_month: last.contract_month };
  }
}
