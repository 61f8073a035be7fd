/**
 * Output metadata on Postgres: the lock every writer of a run's outputs takes, and what the
 * backfill reads and records (the runs to copy, their segments and rows, the `output_backfill`
 * ledger). The Postgres output store itself is src/outputs/pg-store.ts; this is the bookkeeping
 * around the Iceberg store, which cannot share a transaction with Postgres (trino-store.ts).
 */
import { type Sql, type Tx, utcIsoText } from "../adapters/postgres";
import { BATCH_COLUMNS, field, OUTPUT_TABLE } from "./row";
import { keyOrder } from "./sql";
import type { RunOutputMeta } from "./store";
import type { OutputColumns } from "./trino-insert";

/** Which runs a backfill copies: one scenario, runs with an as-of date in [from, to]; with `redo`, also those in the ledger. */
export type BackfillSelection = { scenarioId?: string; from?: string; to?: string; redo?: boolean };

/** Rows of one run that share as-of date, version hash and timestamp: one Iceberg write each. */
export type Segment = Omit<RunOutputMeta, "runId"> & { rows: number };

/** The batch columns as the INSERT builder takes them: the month as yyyymm, attribution as its JSON text. */
const SOURCE_COLUMNS = BATCH_COLUMNS.map((c) =>
  OUTPUT_TABLE[c].kind === "date" ? `(extract(year from ${c}) * 100 + extract(month from ${c}))::int as ${c}` : OUTPUT_TABLE[c].kind === "attribution" ? `${c}::text as ${c}` : c,
).join(", ");

export function createOutputMetaRepo(sql: Sql) {
  const sourceColumns = sql.unsafe(SOURCE_COLUMNS);
  const byKey = sql.unsafe(keyOrder("scenario_output"));
  return {
    /** Serialises every writer of one run's outputs until the transaction ends (released on crash too). */
    async lockRun(tx: Tx, runId: string): Promise<void> {
      await tx`select pg_advisory_xact_lock(hashtextextended(${`scenario_output:${runId}`}, 0))`;
    },

    /** The selected runs with rows in the Postgres store, and how many, in run id order. */
    async backfillSource(s: BackfillSelection): Promise<{ run_id: string; rows: number }[]> {
      return sql<{ run_id: string; rows: number }[]>`
        select run_id::text as run_id, count(*)::int as rows from scenario_output o
        where true
          ${s.scenarioId ? sql`and scenario_id = ${s.scenarioId}` : sql``}
          ${s.from ? sql`and asof_date >= ${s.from}::date` : sql``}
          ${s.to ? sql`and asof_date <= ${s.to}::date` : sql``}
          ${s.redo ? sql`` : sql`and not exists (select 1 from output_backfill b where b.run_id = o.run_id)`}
        group by run_id order by run_id`;
    },

    /** True when the ledger has the run (another backfill copied it). */
    async backfilled(tx: Tx, runId: string): Promise<boolean> {
      return (await tx`select 1 from output_backfill where run_id = ${runId}`).length > 0;
    },

    /** The run's segments; none when its rows were deleted meanwhile. */
    async segments(tx: Tx, runId: string): Promise<Segment[]> {
      return tx<Segment[]>`
        select tenant_id as "tenantId", scenario_id::text as "scenarioId", asof_date::text as "asofDate", version_hash as "versionHash",
               ${tx.unsafe(utcIsoText("computed_ts"))} as "computedTs", count(*)::int as rows
        from scenario_output where run_id = ${runId} group by 1, 2, 3, 4, 5`;
    },

    /**
     * One segment's rows, `batchRows` at a time, as columns for the INSERT builder, in export order (the
     * primary key's), so each Iceberg data file covers a narrow key range as the worker's do. The
     * timestamp goes in as text: typed as timestamptz, postgres.js would pass it through a Date and
     * drop the microseconds. The ORDER BY names the table's columns (keyOrder): bare, `contract_month`
     * is the yyyymm column selected under that name, and Postgres sorted every run's rows by it (on disk,
     * for 107,840 rows) where the primary key's index gives them in order (stop 47, EXPLAIN ANALYZE:
     * 255 ms with the sort, 106 ms by the index; docs/outputs-trino.md).
     */
    async *readSegment(tx: Tx, meta: RunOutputMeta, batchRows: number): AsyncGenerator<OutputColumns> {
      const cursor = tx<Record<string, unknown>[]>`
        select ${sourceColumns}
        from scenario_output
        where run_id = ${meta.runId} and tenant_id = ${meta.tenantId} and asof_date = ${meta.asofDate}::date
          and version_hash = ${meta.versionHash} and computed_ts = ${meta.computedTs}::text::timestamptz
        order by ${byKey}`.cursor(batchRows);
      for await (const rows of cursor) {
        const batch: Record<string, unknown> = { length: rows.length };
        for (const c of BATCH_COLUMNS) batch[field(c)] = rows.map((r) => r[c]);
        yield batch as OutputColumns;
      }
    },

    /** Records the run in the ledger with its row count (again: the count and time are replaced). */
    async recordBackfill(tx: Tx, runId: string, rows: number): Promise<void> {
      await tx`insert into output_backfill (run_id, rows) values (${runId}, ${rows})
               on conflict (run_id) do update set rows = excluded.rows, copied_at = clock_timestamp()`;
    },
  };
}

export type OutputMetaRepo = ReturnType<typeof createOutputMetaRepo>;
