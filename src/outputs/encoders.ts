/**
 * Hand-written CSV and NDJSON encoders for output rows (fast-csv's formatter is 3–4× slower per
 * row on Bun; it stays for parsing imports). They spell values the way Postgres `COPY` does, so an
 * export reads the same whichever path produced it:
 * - CSV (RFC 4180 quoting, LF line ends): a field is quoted when it holds `"`, `,`, CR or LF, or is
 *   the empty string (an empty unquoted field is null); `"` is doubled.
 * - NDJSON: one JSON object per line, keys in column order; non-finite numbers are the strings
 *   "NaN", "Infinity", "-Infinity" (as Postgres' `row_to_json` writes them; JSON pages and
 *   /metrics/latest use the same spelling, finite.ts).
 * Numbers use the shortest representation that reads back to the same double; `attribution` is
 * written as Postgres prints jsonb (`{"policy:0": 1.5, "fuel_curve:1": 2}`).
 */
import type { ExportFormat } from "./reader";
import { OUTPUT_COLUMNS, type OutputRow } from "./row";

const NEEDS_QUOTES = /[",\r\n]/;
/** Cells a spreadsheet would evaluate as a formula (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

export const CSV_HEADER = `${OUTPUT_COLUMNS.join(",")}\n`;

export function csvText(value: string, escapeFormulas = false): string {
  const v = escapeFormulas && FORMULA_START.test(value) ? `'${value}` : value;
  if (v === "") return '""';
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A double as a CSV cell (null: empty) and as a JSON value (NaN and ±Infinity as strings); compare.ts writes its rows with them too. */
export const csvNumber = (n: number | null): string => (n === null ? "" : String(n));
export const jsonNumber = (n: number | null): string => (n === null ? "null" : Number.isFinite(n) ? String(n) : `"${n}"`);
const json = JSON.stringify;

/** A flat object as Postgres' jsonb output spells it: `": "` and `", "` separators. */
export function jsonbText(o: Record<string, number>): string {
  let text = "";
  for (const k in o) text += `${text ? ", " : "{"}${JSON.stringify(k)}: ${jsonNumber(o[k] as number)}`;
  return text ? `${text}}` : "{}";
}

export function csvRow(r: OutputRow, escapeFormulas = false): string {
  const attribution = r.attribution === null ? "" : csvText(jsonbText(r.attribution));
  const text = (v: string) => csvText(v, escapeFormulas);
  return `${r.scenario_id},${r.run_id},${r.asof_date},${text(r.curve_key)},${text(r.tenor_type)},${r.contract_month},${text(r.tenor_label)},${text(r.metric)},${r.value},${csvNumber(r.band_lower)},${csvNumber(r.band_upper)},${attribution},${text(r.version_hash)}\n`;
}

export function ndjsonRow(r: OutputRow): string {
  return `{"scenario_id":"${r.scenario_id}","run_id":"${r.run_id}","asof_date":"${r.asof_date}","curve_key":${json(r.curve_key)},"tenor_type":${json(r.tenor_type)},"contract_month":"${r.contract_month}","tenor_label":${json(r.tenor_label)},"metric":${json(r.metric)},"value":${jsonNumber(r.value)},"band_lower":${jsonNumber(r.band_lower)},"band_upper":${jsonNumber(r.band_upper)},"attribution":${r.attribution === null ? "null" : jsonbText(r.attribution)},"version_hash":${json(r.version_hash)}}\n`;
}

/** Encodes row batches into one UTF-8 chunk per batch; CSV starts with the header row even when there are no rows. */
export async function* encodeRows(batches: AsyncIterable<OutputRow[]>, format: ExportFormat, escapeFormulas = false): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let header = format === "csv" ? CSV_HEADER : "";
  for await (const rows of batches) {
    let text = header;
    header = "";
    if (format === "csv") for (const r of rows) text += csvRow(r, escapeFormulas);
    else for (const r of rows) text += ndjsonRow(r);
    yield encoder.encode(text);
  }
  if (header) yield encoder.encode(header);
}
