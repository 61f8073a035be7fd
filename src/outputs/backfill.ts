/**
 * Backfill: copies outputs from the Postgres store (`scenario_output`) into Iceberg, a run at a time
 * (one scenario, an as-of date range, or everything). Each run is copied like the Trino writer
 * writes one (src/outputs/trino-store.ts): under the run's lock, its rows go in under a fresh
 * write_id, the run's other Iceberg rows are deleted, and the run is recorded in the
 * `output_backfill` ledger in the same Postgres transaction. Interrupted and restarted, it skips
 * the recorded runs and redoes the one in flight, whose partial rows that delete removes: the
 * result is exactly the source rows, however often it is stopped.
 */
import type { Sql, Tx } from "../adapters/postgres";
import type { TrinoClient } from "../adapters/trino";
import type { Logger } from "../platform/logger";
import { BATCH_COLUMNS, field, OUTPUT_TABLE } from "./row";
import type { RunOutputMeta } from "./store";
import type { OutputColumns } from "./trino-insert";
import { createIcebergOutputs, lockRunOutputs } from "./trino-store";

export type BackfillOptions = {
  sql: Sql;
  trino: TrinoClient;
  log: Logger;
  scenarioId?: string;
  /** Runs with an as-of date in [from, to] (YYYY-MM-DD, both inclusive, either optional). */
  from?: string;
  to?: string;
  /** Copy runs again even if the ledger has them. */
  redo?: boolean;
  signal?: AbortSignal;
  /** After every INSERT statement and every finished run. */
  onProgress?: (p: BackfillProgress) => void;
  table?: string;
  maxStatementChars?: number;
  concurrency?: number;
};

export type BackfillProgress = {
  runsTotal: number;
  runsDone: number;
  rowsTotal: number;
  rowsDone: number;
  /** The run being copied, if any. */
  runId?: string;
  elapsedMs: number;
};

type Segment = Omit<RunOutputMeta, "runId"> & { rows: number };
/** The batch columns as the INSERT builder takes them: the month as yyyymm, attribution as its JSON text. */
const SOURCE_COLUMNS = BATCH_COLUMNS.map((c) =>
  OUTPUT_TABLE[c].kind === "date" ? `(extract(year from ${c}) * 100 + extract(month from ${c}))::int as ${c}` : OUTPUT_TABLE[c].kind === "attribution" ? `${c}::text as ${c}` : c,
).join(", ");

const READ_ROWS = 10_000;

/** Copies the selected runs that the ledger lacks; throws the signal's reason when aborted (progress so far is kept). */
export async function backfill(opts: BackfillOptions): Promise<BackfillProgress> {
  const { sql, log, signal } = opts;
  const iceberg = createIcebergOutputs(opts);
  const started = performance.now();
  const runs = await sql<{ run_id: string; rows: number }[]>`
    select run_id::text as run_id, count(*)::int as rows from scenario_output o
    where true
      ${opts.scenarioId ? sql`and scenario_id = ${opts.scenarioId}` : sql``}
      ${opts.from ? sql`and asof_date >= ${opts.from}::date` : sql``}
      ${opts.to ? sql`and asof_date <= ${opts.to}::date` : sql``}
      ${opts.redo ? sql`` : sql`and not exists (select 1 from output_backfill b where b.run_id = o.run_id)`}
    group by run_id order by run_id`;
  const progress: BackfillProgress = { runsTotal: runs.length, runsDone: 0, rowsTotal: runs.reduce((n, r) => n + r.rows, 0), rowsDone: 0, elapsedMs: 0 };
  const report = (runId?: string) => {
    progress.elapsedMs = Math.round(performance.now() - started);
    if (runId) progress.runId = runId;
    else delete progress.runId;
    opts.onProgress?.({ ...progress });
  };
  log.info("backfill_started", { runs: progress.runsTotal, rows: progress.rowsTotal, scenario_id: opts.scenarioId, from: opts.from, to: opts.to });

  for (const { run_id: runId } of runs) {
    signal?.throwIfAborted();
    const before = progress.rowsDone;
    report(runId);
    await sql.begin(async (tx) => {
      await lockRunOutputs(tx, runId);
      if (!opts.redo && (await tx`select 1 from output_backfill where run_id = ${runId}`).length) return; // another backfill did it meanwhile
      const segments = await tx<Segment[]>`
        select tenant_id as "tenantId", scenario_id::text as "scenarioId", asof_date::text as "asofDate", version_hash as "versionHash",
               to_char(computed_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "computedTs", count(*)::int as rows
        from scenario_output where run_id = ${runId} group by 1, 2, 3, 4, 5`;
      const first = segments[0];
      if (!first) return; // its rows were deleted meanwhile
      let rows = 0;
      const onRows = (n: number) => {
        progress.rowsDone += n;
        report(runId);
      };
      // Normally one segment; rows of a run that differ in as-of date, hash or timestamp keep theirs.
      const write = async (writeId: string) => {
        for (const [part, s] of segments.entries()) {
          const meta = { ...s, runId };
          rows += await iceberg.run(iceberg.statementsFrom(meta, writeId, readSegment(tx, meta), part), meta, signal, onRows);
        }
        return rows;
      };
      const record = async () => {
        await tx`insert into output_backfill (run_id, rows) values (${runId}, ${rows})
                 on conflict (run_id) do update set rows = excluded.rows, copied_at = clock_timestamp()`;
      };
      try {
        await iceberg.replace({ ...first, runId }, write, record);
      } catch (err) {
        progress.rowsDone = before;
        throw err;
      }
    });
    progress.runsDone++;
  }
  report();
  log.info("backfill_finished", { runs: progress.runsDone, rows: progress.rowsDone, ms: Math.round(performance.now() - started) });
  return { ...progress, elapsedMs: Math.round(performance.now() - started) };
}

/**
 * One segment's rows, READ_ROWS at a time, as columns for the INSERT builder. The timestamp goes
 * in as text: typed as timestamptz, postgres.js would pass it through a Date and drop the microseconds.
 */
async function* readSegment(tx: Tx, meta: RunOutputMeta): AsyncGenerator<OutputColumns> {
  const cursor = tx<Record<string, unknown>[]>`
    select ${tx.unsafe(SOURCE_COLUMNS)}
    from scenario_output
    where run_id = ${meta.runId} and tenant_id = ${meta.tenantId} and asof_date = ${meta.asofDate}::date
      and version_hash = ${meta.versionHash} and computed_ts = ${meta.computedTs}::text::timestamptz`.cursor(READ_ROWS);
  for await (const rows of cursor) {
    const batch: Record<string, unknown> = { length: rows.length };
    for (const c of BATCH_COLUMNS) batch[field(c)] = rows.map((r) => r[c]);
    yield batch as OutputColumns;
  }
}

/** Progress on a terminal: one line rewritten in place, at most every `everyMs`. */
export function terminalProgress(write: (s: string) => void = (s) => process.stderr.write(s), everyMs = 250): (p: BackfillProgress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    const done = p.runsDone === p.runsTotal && !p.runId;
    if (!done && now - last < everyMs) return;
    last = now;
    const rate = p.elapsedMs > 0 ? Math.round((p.rowsDone / p.elapsedMs) * 1000) : 0;
    const pct = p.rowsTotal ? ((100 * p.rowsDone) / p.rowsTotal).toFixed(1) : "100.0";
    const eta = rate > 0 ? Math.round((p.rowsTotal - p.rowsDone) / rate) : 0;
    write(
      `\rbackfill: ${p.runsDone}/${p.runsTotal} runs, ${p.rowsDone.toLocaleString("en")}/${p.rowsTotal.toLocaleString("en")} rows (${pct} %), ${rate.toLocaleString("en")} rows/s, eta ${eta} s${done ? "\n" : ""}`,
    );
  };
}
