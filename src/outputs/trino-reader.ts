/**
 * Iceberg output store, read side (`iceberg.market.scenario_output`), through Trino. Same order,
 * keyset and filters as the Postgres reader (the same WHERE compiler, sql.ts), so the API answers
 * alike on either store:
 * - `page`: one keyset query, `ORDER BY` the natural key, `LIMIT`;
 * - `latest`: the runs that count (SUCCEEDED) come from Postgres, the rollup (`row_number()` per
 *   natural key, latest as-of date first) runs in Trino over just those runs;
 * - `export`: no global ORDER BY: a plan, then one unordered query per chunk of the key, each chunk
 *   sorted here (trino-export.ts), encoded as it is sent (`encodeRows`). Chunks are read a bounded
 *   number ahead of the HTTP stream, and leaving early (a client that went away) cancels the
 *   queries in flight. They ask for the spooling protocol (segments downloaded in parallel,
 *   zstd-compressed) and get the direct one from a server without it.
 * A run's rows are read only once it is SUCCEEDED (the service checks), when the swap in
 * trino-store.ts has left exactly one write of them.
 */
import type { TrinoClient } from "../adapters/trino";
import { varcharLiteral } from "../adapters/trino-literals";
import type { RunRepo } from "../runs/repo";
import { createTrinoCompareReader } from "./compare-trino";
import { encodeRows } from "./encoders";
import type { MetricSummaryRow, OutputReader } from "./reader";
import { LATEST_COLUMNS, type LatestRow, OUTPUT_COLUMNS, OUTPUT_TABLE, type OutputRow, TABLE_COLUMNS } from "./row";
import { KEY_ORDER, readColumns, trinoDialect, trinoValue, where } from "./sql";
import { chunkedExport, type ExportColumn } from "./trino-export";
import { rowBatches, rowObjects } from "./trino-rows";
import { ICEBERG_OUTPUT_TABLE } from "./trino-store";

/** The API row's select list (bench/suites/export.ts runs it through the bare client). */
export const ROW_COLUMNS = readColumns(trinoDialect, OUTPUT_COLUMNS);
/** The export's columns one by one: the chunks leave out those whose value is known (trino-export.ts). */
const EXPORT_COLUMNS: ExportColumn[] = OUTPUT_COLUMNS.map((name) => ({ name, sql: trinoValue(name, OUTPUT_TABLE[name].kind) }));
const DOUBLES: ReadonlySet<string> = new Set(TABLE_COLUMNS.filter((c) => OUTPUT_TABLE[c].kind === "double"));

/** Defaults of the chunked export (trino-export.ts; AURUM_TRINO_EXPORT_CHUNK_ROWS and _PREFETCH): ~100,000 rows a chunk, 2 read ahead (docs/performance.md, "Trino exports"). */
export const EXPORT_CHUNK_ROWS = 100_000;
export const EXPORT_PREFETCH = 2;

/** `runs` tells which runs are SUCCEEDED (the rollup reads only those). */
export type TrinoReaderOptions = {
  runs: Pick<RunRepo, "succeededIds">;
  trino: TrinoClient;
  table?: string;
  /** Export chunks: rows in each (about) and how many are read ahead; see trino-export.ts. */
  exportChunkRows?: number;
  exportPrefetch?: number;
};

export function createTrinoOutputReader(opts: TrinoReaderOptions): OutputReader {
  const { trino, runs } = opts;
  const table = opts.table ?? ICEBERG_OUTPUT_TABLE;

  return {
    async page(filter, limit, after) {
      const result = await trino.execute(`SELECT ${ROW_COLUMNS} FROM ${table} WHERE ${where(trinoDialect, filter, after)} ORDER BY ${KEY_ORDER} LIMIT ${limit | 0}`, {
        tenantId: filter.tenantId,
      });
      return rowObjects<OutputRow>(result, DOUBLES);
    },

    async latest(filter, limit, after) {
      const succeeded = await runs.succeededIds(filter.scenarioId, filter.tenantId);
      if (!succeeded.length || (filter.runId && !succeeded.includes(filter.runId))) return [];
      const ids = filter.runId ? [filter.runId] : succeeded;
      const result = await trino.execute(
        `SELECT ${readColumns(trinoDialect, LATEST_COLUMNS)} FROM (
           SELECT *, row_number() OVER (PARTITION BY ${KEY_ORDER} ORDER BY asof_date DESC, computed_ts DESC, run_id DESC) AS rn
           FROM ${table} WHERE ${where(trinoDialect, filter, after)} AND run_id IN (${ids.map(varcharLiteral).join(", ")})
         ) WHERE rn = 1 ORDER BY ${KEY_ORDER} LIMIT ${limit | 0}`,
        { tenantId: filter.tenantId },
      );
      return rowObjects<LatestRow>(result, DOUBLES);
    },

    /** The same rollup, summarised per metric in Trino (metric-summary.ts); NaN and ±Infinity counted apart. */
    async latestByMetric(filter, limit, afterMetric) {
      const succeeded = await runs.succeededIds(filter.scenarioId, filter.tenantId);
      if (!succeeded.length || (filter.runId && !succeeded.includes(filter.runId))) return [];
      const ids = filter.runId ? [filter.runId] : succeeded;
      const after = afterMetric !== undefined ? ` AND metric > ${varcharLiteral(afterMetric)}` : "";
      const result = await trino.execute(
        `SELECT metric, count(*) AS count, min(value) FILTER (WHERE finite) AS min, max(value) FILTER (WHERE finite) AS max,
           avg(value) FILTER (WHERE finite) AS mean, count(*) FILTER (WHERE NOT finite) AS non_finite,
           CAST(max(asof_date) AS varchar) AS latest_asof_date, count(DISTINCT run_id) AS run_ids
         FROM (
           SELECT metric, value, asof_date, run_id, is_finite(value) AS finite,
             row_number() OVER (PARTITION BY ${KEY_ORDER} ORDER BY asof_date DESC, computed_ts DESC, run_id DESC) AS rn
           FROM ${table} WHERE ${where(trinoDialect, filter)} AND run_id IN (${ids.map(varcharLiteral).join(", ")})${after}
         ) WHERE rn = 1 GROUP BY metric ORDER BY metric LIMIT ${limit | 0}`,
        { tenantId: filter.tenantId },
      );
      return rowObjects<MetricSummaryRow>(result, DOUBLES).map((r) => ({ ...r, count: Number(r.count), non_finite: Number(r.non_finite), run_ids: Number(r.run_ids) }));
    },

    export(filter, request) {
      const pages = chunkedExport(
        {
          trino,
          table,
          columns: EXPORT_COLUMNS,
          // Ids as the WHERE matched them: Iceberg keeps them as the same text.
          fixed: { scenario_id: filter.scenarioId, run_id: filter.runId },
          constants: ["asof_date", "version_hash"],
          chunkRows: opts.exportChunkRows ?? EXPORT_CHUNK_ROWS,
          prefetch: opts.exportPrefetch ?? EXPORT_PREFETCH,
        },
        filter,
        request,
      );
      return encodeRows(rowBatches<OutputRow>(pages, DOUBLES), request.format, request.escapeFormulas);
    },

    compare: createTrinoCompareReader(trino, table),
  };
}
