/**
 * Postgres output store, read side (`scenario_output`). Pages and the latest-value rollup are
 * plain keyset queries on the pool. Exports take the fastest correct path per store:
 * - a real server: `COPY (SELECT ...) TO STDOUT` (CSV, or `row_to_json` lines for NDJSON) on a
 *   connection of its own, in ~64 KB chunks of whole rows: read by src/adapters/pg-copy.ts (the wire protocol
 *   spoken directly, flat memory), or by postgres.js when that cannot connect as the pool does;
 * - embedded PGlite: keyset pages of 5,000 rows through the JS encoders, releasing its single
 *   connection between pages so other requests still get through.
 * Measurements: docs/performance.md.
 */
import { copyOut } from "../adapters/copy-out";
import type { Sql } from "../adapters/postgres";
import { createPgCompareReader } from "./compare-pg";
import { encodeRows } from "./encoders";
import type { ExportRequest, LatestRow, MetricSummaryRow, OutputFilter, OutputKey, OutputReader, OutputRow, RunFilter } from "./reader";
import { pagedRows } from "./reader";

const ORDER = "metric, curve_key, tenor_type, contract_month";
const TEXT_COLUMNS = ["curve_key", "tenor_type", "tenor_label", "metric", "version_hash"];
const COPY_COLUMNS = "scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, band_lower, band_upper, attribution, version_hash";
const ymd = (col: string) => `to_char(${col}, 'YYYY-MM-DD') as ${col.replace(/^o\./, "")}`;
const ROW_COLUMNS = `scenario_id::text as scenario_id, run_id::text as run_id, ${ymd("asof_date")}, curve_key, tenor_type, ${ymd("contract_month")}, tenor_label, metric, value, band_lower, band_upper, attribution, version_hash`;

export type PgReaderOptions = {
  /** Use COPY for exports. Default: yes unless the server is PGlite (its socket serves one connection). */
  copy?: boolean;
  /**
   * Opens the dedicated postgres.js connection of one COPY export. Default: none, the export speaks
   * the wire protocol itself (src/adapters/pg-copy.ts) with the pool's settings, or falls back to postgres.js
   * with them (max 1) when it cannot (TLS options or an authentication method it does not speak).
   */
  connect?: () => Sql;
};

export function createPgOutputReader(sql: Sql, opts: PgReaderOptions = {}): OutputReader {
  let copy: Promise<boolean> | undefined = opts.copy === undefined ? undefined : Promise.resolve(opts.copy);
  const useCopy = () => (copy ??= sql`select version() as v`.then(([row]) => !/pglite/i.test(String(row?.v))));

  const reader: OutputReader = {
    async page(filter, limit, after) {
      const p = placeholders();
      const where = conditions(filter, after, p.add);
      return (await sql.unsafe(`select ${ROW_COLUMNS} from scenario_output where ${where} order by ${ORDER} limit ${limit | 0}`, p.values)) as unknown as OutputRow[];
    },

    /**
     * The rollup of mart_scenario_output with the filters applied first. Each SUCCEEDED run
     * contributes its first `limit` keys after the cursor (a primary-key range scan); every key of
     * the page is among them, with all its rows, so only runs × limit rows are sorted per page.
     */
    async latest(filter, limit, after) {
      const p = placeholders();
      const where = conditions(filter, after, p.add, "o.");
      const n = limit | 0;
      return (await sql.unsafe(
        `select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month)
           o.curve_key, o.tenor_type, ${ymd("o.contract_month")}, o.tenor_label, o.metric, o.value, o.band_lower, o.band_upper,
           o.run_id::text as run_id, ${ymd("o.asof_date")}
         from scenario_run r
         cross join lateral (select * from scenario_output o where o.run_id = r.id and ${where} order by ${ORDER} limit ${n}) o
         where r.scenario_id = ${p.add(filter.scenarioId, "::uuid")} and r.state = 'SUCCEEDED'
         order by o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc
         limit ${n}`,
        p.values,
      )) as unknown as LatestRow[];
    },

    /** The same rollup, summarised per metric (metric-summary.ts); NaN and ±Infinity counted apart. */
    async latestByMetric(filter, limit, afterMetric) {
      const p = placeholders();
      const where = conditions(filter, undefined, p.add, "o.") + (afterMetric !== undefined ? ` and o.metric > ${p.add(afterMetric)}` : "");
      return (await sql.unsafe(
        `with latest as (
           select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month) o.metric, o.value, o.asof_date, o.run_id,
             o.value not in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) as finite
           from scenario_run r
           cross join lateral (select * from scenario_output o where o.run_id = r.id and ${where}) o
           where r.scenario_id = ${p.add(filter.scenarioId, "::uuid")} and r.state = 'SUCCEEDED'
           order by o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc)
         select metric, count(*)::int as count, min(value) filter (where finite) as min, max(value) filter (where finite) as max,
           avg(value) filter (where finite) as mean, (count(*) filter (where not finite))::int as non_finite,
           to_char(max(asof_date), 'YYYY-MM-DD') as latest_asof_date, count(distinct run_id)::int as run_ids
         from latest group by metric order by metric limit ${limit | 0}`,
        p.values,
      )) as unknown as MetricSummaryRow[];
    },

    export(filter, request) {
      return (async function* () {
        if (await useCopy()) yield* copyOut(sql, opts.connect, copyStatement(filter, request), request.signal);
        else yield* encodeRows(pagedRows(reader, filter, request), request.format, request.escapeFormulas);
      })();
    },

    compare: createPgCompareReader(sql, { useCopy, connect: opts.connect }),
  };
  return reader;
}

/** Numbered placeholders and their values, for one statement. */
export function placeholders() {
  const values: string[] = [];
  return { values, add: (value: string, cast = "") => `$${values.push(value)}${cast}` };
}

/** The WHERE clause of a read; `prefix` qualifies its columns. */
export function conditions(f: OutputFilter, after: OutputKey | undefined, p: (value: string, cast?: string) => string, prefix = ""): string {
  const c = (col: string) => `${prefix}${col}`;
  const where = [`${c("tenant_id")} = ${p(f.tenantId)}`, `${c("scenario_id")} = ${p(f.scenarioId, "::uuid")}`];
  if (f.runId) where.push(`${c("run_id")} = ${p(f.runId, "::uuid")}`);
  if (f.metric) where.push(`${c("metric")} = ${p(f.metric)}`);
  if (f.curveKey) where.push(`${c("curve_key")} = ${p(f.curveKey)}`);
  if (f.tenorType) where.push(`${c("tenor_type")} = ${p(f.tenorType)}`);
  if (f.asofFrom) where.push(`${c("asof_date")} >= ${p(f.asofFrom, "::date")}`);
  if (f.asofTo) where.push(`${c("asof_date")} <= ${p(f.asofTo, "::date")}`);
  if (f.monthFrom) where.push(`${c("contract_month")} >= ${p(f.monthFrom, "::date")}`);
  if (f.monthTo) where.push(`${c("contract_month")} <= ${p(f.monthTo, "::date")}`);
  if (after) {
    const key = `(${ORDER.split(", ").map(c).join(", ")})`;
    where.push(`${key} > (${p(after.metric)}, ${p(after.curve_key)}, ${p(after.tenor_type)}, ${p(after.contract_month, "::date")})`);
  }
  return where.join(" and ");
}

/** COPY takes no parameters: values go in as escaped literals (E'' strings: safe whatever standard_conforming_strings says). */
export function inline(text: string, params: string[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => `E'${(params[Number(n) - 1] as string).replace(/\\/g, "\\\\").replace(/'/g, "''")}'`);
}

/** The statement an export runs (bench/outputs.ts hands the same text to psql). */
export function copyStatement(f: RunFilter, req: Omit<ExportRequest, "signal">): string {
  const p = placeholders();
  const where = conditions(f, req.after, p.add);
  const guard = (col: string) => `case when left(${col}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${col} else ${col} end as ${col}`;
  const columns =
    req.format === "csv" && req.escapeFormulas
      ? COPY_COLUMNS.split(", ")
          .map((col) => (TEXT_COLUMNS.includes(col) ? guard(col) : col))
          .join(", ")
      : COPY_COLUMNS;
  const select = inline(`select ${columns} from scenario_output where ${where} order by ${ORDER}${req.limit ? ` limit ${req.limit | 0}` : ""}`, p.values);
  // NDJSON: CSV mode with quote and delimiter bytes that JSON text never contains, so lines pass through unescaped.
  return req.format === "csv"
    ? `copy (${select}) to stdout with (format csv, header)`
    : `copy (select row_to_json(t) from (${select}) t) to stdout with (format csv, quote E'\\x01', delimiter E'\\x02')`;
}
