/**
 * Iceberg output store, read side (`iceberg.market.scenario_output`), through Trino. Same order,
 * keyset and filters as the Postgres reader (src/outputs/pg-reader.ts), so the API answers alike
 * on either store:
 * - `page`: one keyset query, `ORDER BY` the natural key, `LIMIT`;
 * - `latest`: the runs that count (SUCCEEDED) come from Postgres, the rollup (`row_number()` per
 *   natural key, latest as-of date first) runs in Trino over just those runs;
 * - `export`: one query whose result pages are encoded as they arrive (`encodeRows`); the client
 *   pulls the next page only when the HTTP stream wants more, and leaving early (a client that
 *   went away) cancels the query.
 * A run's rows are read only once it is SUCCEEDED (the service checks), when the swap in
 * trino-store.ts has left exactly one write of them.
 */
import type { Sql } from "../adapters/postgres";
import type { TrinoClient, TrinoColumn, TrinoPage } from "../adapters/trino";
import { dateLiteral, varcharLiteral } from "../adapters/trino-literals";
import { createTrinoCompareReader } from "./compare-trino";
import { encodeRows } from "./encoders";
import { parseAttribution } from "./finite";
import type { LatestRow, MetricSummaryRow, OutputFilter, OutputKey, OutputReader, OutputRow } from "./reader";
import { ICEBERG_OUTPUT_TABLE } from "./trino-store";

const ORDER = "metric, curve_key, tenor_type, contract_month";
const ROW_COLUMNS = `scenario_id, run_id, CAST(asof_date AS varchar) AS asof_date, curve_key, tenor_type, CAST(contract_month AS varchar) AS contract_month, tenor_label, metric, value, band_lower, band_upper, attribution, version_hash`;
const LATEST_COLUMNS = `curve_key, tenor_type, CAST(contract_month AS varchar) AS contract_month, tenor_label, metric, value, band_lower, band_upper, run_id, CAST(asof_date AS varchar) AS asof_date`;

export type TrinoReaderOptions = { sql: Sql; trino: TrinoClient; table?: string };

export function createTrinoOutputReader(opts: TrinoReaderOptions): OutputReader {
  const { sql, trino } = opts;
  const table = opts.table ?? ICEBERG_OUTPUT_TABLE;

  return {
    async page(filter, limit, after) {
      const result = await trino.execute(`SELECT ${ROW_COLUMNS} FROM ${table} WHERE ${conditions(filter, after)} ORDER BY ${ORDER} LIMIT ${limit | 0}`, {
        tenantId: filter.tenantId,
      });
      return objects<OutputRow>(result);
    },

    async latest(filter, limit, after) {
      const runs = await sql<{ id: string }[]>`
        select id::text as id from scenario_run
        where scenario_id = ${filter.scenarioId}::uuid and tenant_id = ${filter.tenantId} and state = 'SUCCEEDED'`;
      if (!runs.length || (filter.runId && !runs.some((r) => r.id === filter.runId))) return [];
      const ids = filter.runId ? [filter.runId] : runs.map((r) => r.id);
      const result = await trino.execute(
        `SELECT ${LATEST_COLUMNS} FROM (
           SELECT *, row_number() OVER (PARTITION BY ${ORDER} ORDER BY asof_date DESC, computed_ts DESC, run_id DESC) AS rn
           FROM ${table} WHERE ${conditions(filter, after)} AND run_id IN (${ids.map(varcharLiteral).join(", ")})
         ) WHERE rn = 1 ORDER BY ${ORDER} LIMIT ${limit | 0}`,
        { tenantId: filter.tenantId },
      );
      return objects<LatestRow>(result);
    },

    /** The same rollup, summarised per metric in Trino (metric-summary.ts); NaN and ±Infinity counted apart. */
    async latestByMetric(filter, limit, afterMetric) {
      const runs = await sql<{ id: string }[]>`
        select id::text as id from scenario_run
        where scenario_id = ${filter.scenarioId}::uuid and tenant_id = ${filter.tenantId} and state = 'SUCCEEDED'`;
      if (!runs.length || (filter.runId && !runs.some((r) => r.id === filter.runId))) return [];
      const ids = filter.runId ? [filter.runId] : runs.map((r) => r.id);
      const after = afterMetric !== undefined ? ` AND metric > ${varcharLiteral(afterMetric)}` : "";
      const result = await trino.execute(
        `SELECT metric, count(*) AS count, min(value) FILTER (WHERE finite) AS min, max(value) FILTER (WHERE finite) AS max,
           avg(value) FILTER (WHERE finite) AS mean, count(*) FILTER (WHERE NOT finite) AS non_finite,
           CAST(max(asof_date) AS varchar) AS latest_asof_date, count(DISTINCT run_id) AS run_ids
         FROM (
           SELECT metric, value, asof_date, run_id, is_finite(value) AS finite,
             row_number() OVER (PARTITION BY ${ORDER} ORDER BY asof_date DESC, computed_ts DESC, run_id DESC) AS rn
           FROM ${table} WHERE ${conditions(filter, undefined)} AND run_id IN (${ids.map(varcharLiteral).join(", ")})${after}
         ) WHERE rn = 1 GROUP BY metric ORDER BY metric LIMIT ${limit | 0}`,
        { tenantId: filter.tenantId },
      );
      return objects<MetricSummaryRow>(result).map((r) => ({ ...r, count: Number(r.count), non_finite: Number(r.non_finite), run_ids: Number(r.run_ids) }));
    },

    export(filter, request) {
      const statement = `SELECT ${ROW_COLUMNS} FROM ${table} WHERE ${conditions(filter, request.after)} ORDER BY ${ORDER}${request.limit ? ` LIMIT ${request.limit | 0}` : ""}`;
      const pages = trino.query(statement, { signal: request.signal, tenantId: filter.tenantId });
      return encodeRows(rowBatches(pages), request.format, request.escapeFormulas);
    },

    compare: createTrinoCompareReader(trino, table),
  };
}

/** The WHERE clause of a read; values go in as literals (Trino's HTTP protocol has no parameters on a plain statement). */
export function conditions(f: OutputFilter, after: OutputKey | undefined): string {
  const where = [`tenant_id = ${varcharLiteral(f.tenantId)}`, `scenario_id = ${varcharLiteral(f.scenarioId)}`];
  if (f.runId) where.push(`run_id = ${varcharLiteral(f.runId)}`);
  if (f.metric) where.push(`metric = ${varcharLiteral(f.metric)}`);
  if (f.curveKey) where.push(`curve_key = ${varcharLiteral(f.curveKey)}`);
  if (f.tenorType) where.push(`tenor_type = ${varcharLiteral(f.tenorType)}`);
  if (f.asofFrom) where.push(`asof_date >= ${dateLiteral(f.asofFrom)}`);
  if (f.asofTo) where.push(`asof_date <= ${dateLiteral(f.asofTo)}`);
  if (f.monthFrom) where.push(`contract_month >= ${dateLiteral(f.monthFrom)}`);
  if (f.monthTo) where.push(`contract_month <= ${dateLiteral(f.monthTo)}`);
  if (after) {
    const key = [varcharLiteral(after.metric), varcharLiteral(after.curve_key), varcharLiteral(after.tenor_type), dateLiteral(after.contract_month)];
    where.push(`(${ORDER}) > (${key.join(", ")})`);
  }
  return where.join(" AND ");
}

async function* rowBatches(pages: AsyncGenerator<TrinoPage, unknown>): AsyncGenerator<OutputRow[]> {
  for await (const page of pages) if (page.rows.length) yield objects<OutputRow>(page);
}

const DOUBLES = new Set(["value", "band_lower", "band_upper"]);

/**
 * Rows as objects keyed by column name. Trino's JSON spells non-finite doubles as strings ("NaN", "Infinity");
 * attribution is JSON text, read leniently: rows written before the writer quoted non-finite entries hold `{"k":Infinity}`.
 */
function objects<T>({ columns, rows }: { columns: TrinoColumn[]; rows: unknown[][] }): T[] {
  const names = columns.map((c) => c.name);
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const v = r[i];
      o[name] = v === null || v === undefined ? null : DOUBLES.has(name) ? Number(v) : name === "attribution" ? parseAttribution(v as string) : v;
    });
    return o as T;
  });
}
