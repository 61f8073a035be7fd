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
import type { ExportRequest, MetricSummaryRow, OutputReader, RunFilter } from "./reader";
import { pagedRows } from "./reader";
import { LATEST_COLUMNS, type LatestRow, OUTPUT_COLUMNS, OUTPUT_TABLE, type OutputRow } from "./row";
import { copyTo, formulaGuard, inline, KEY_ORDER, keyOrder, pgParams, readColumns, where } from "./sql";

const ROW_COLUMNS = readColumns(pgParams(), OUTPUT_COLUMNS);

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
      const p = pgParams();
      return (await sql.unsafe(
        `select ${ROW_COLUMNS} from scenario_output where ${where(p, filter, after)} order by ${keyOrder("scenario_output")} limit ${limit | 0}`,
        p.values,
      )) as unknown as OutputRow[];
    },

    /**
     * The rollup of mart_scenario_output with the filters applied first. Each SUCCEEDED run
     * contributes its first `limit` keys after the cursor (a primary-key range scan); every key of
     * the page is among them, with all its rows, so only runs × limit rows are sorted per page.
     */
    async latest(filter, limit, after) {
      const p = pgParams();
      const conditions = where(p, filter, after, "o.");
      const n = limit | 0;
      return (await sql.unsafe(
        `select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month) ${readColumns(p, LATEST_COLUMNS, "o.")}
         from scenario_run r
         cross join lateral (select * from scenario_output o where o.run_id = r.id and ${conditions} order by ${KEY_ORDER} limit ${n}) o
         where r.scenario_id = ${p.bind(filter.scenarioId, "uuid")} and r.state = 'SUCCEEDED'
         order by o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc
         limit ${n}`,
        p.values,
      )) as unknown as LatestRow[];
    },

    /** The same rollup, summarised per metric (metric-summary.ts); NaN and ±Infinity counted apart. */
    async latestByMetric(filter, limit, afterMetric) {
      const p = pgParams();
      const conditions = where(p, filter, undefined, "o.") + (afterMetric !== undefined ? ` and o.metric > ${p.bind(afterMetric, "text")}` : "");
      return (await sql.unsafe(
        `with latest as (
           select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month) o.metric, o.value, o.asof_date, o.run_id,
             o.value not in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) as finite
           from scenario_run r
           cross join lateral (select * from scenario_output o where o.run_id = r.id and ${conditions}) o
           where r.scenario_id = ${p.bind(filter.scenarioId, "uuid")} and r.state = 'SUCCEEDED'
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

/** The statement an export runs (bench/outputs.ts hands the same text to psql). COPY spells ids and dates as text itself. */
export function copyStatement(f: RunFilter, req: Omit<ExportRequest, "signal">): string {
  const p = pgParams();
  const guarded = req.format === "csv" && req.escapeFormulas;
  const columns = OUTPUT_COLUMNS.map((col) => (guarded && OUTPUT_TABLE[col].kind === "text" ? `${formulaGuard(col)} as ${col}` : col)).join(", ");
  const select = `select ${columns} from scenario_output where ${where(p, f, req.after)} order by ${keyOrder("scenario_output")}${req.limit ? ` limit ${req.limit | 0}` : ""}`;
  return copyTo(inline(select, p.values), req.format);
}
