/**
 * Backfill: copies outputs from the Postgres store (`scenario_output`) into Iceberg, run by run, two
 * at once (one scenario, an as-of date range, or everything). Each run is copied like the Trino writer
 * writes one (src/outputs/trino-store.ts): under the run's lock, its rows go in under a fresh
 * write_id, the run's other Iceberg rows are deleted, and the run is recorded in the
 * `output_backfill` ledger in the same Postgres transaction. Interrupted and restarted, it skips
 * the recorded runs and redoes those in flight, whose partial rows that delete removes: the
 * result is exactly the source rows, however often it is stopped.
 */
import type { Transaction } from "../adapters/postgres";
import type { TrinoClient } from "../adapters/trino";
import type { Logger } from "../platform/logger";
import type { BackfillSelection, OutputMetaRepo } from "./output-meta";
import { createIcebergOutputs, replaceWrite } from "./trino-store";

export type BackfillOptions = BackfillSelection & {
  /** The metadata ports it uses: the unit of work, and the output metadata (lock, source rows, ledger). */
  metadata: { transaction: Transaction; outputs: OutputMetaRepo };
  trino: TrinoClient;
  log: Logger;
  signal?: AbortSignal;
  /** After every INSERT statement and every finished run. */
  onProgress?: (p: BackfillProgress) => void;
  table?: string;
  maxStatementChars?: number;
  /** INSERT statements in flight at once, across the runs being copied (default 2). */
  concurrency?: number;
  /**
   * Runs copied at once, each in its own transaction under its own lock (default 2): one run's rows
   * are read from Postgres and encoded while another's statements run in Trino, which held the
   * copy at one step at a time. `concurrency` still bounds the statements Trino holds.
   */
  runsAtOnce?: number;
};

export type BackfillProgress = {
  runsTotal: number;
  runsDone: number;
  rowsTotal: number;
  rowsDone: number;
  /** The run last reported on, while runs are being copied. */
  runId?: string;
  elapsedMs: number;
};

const READ_ROWS = 10_000;

/**
 * Copies the selected runs that the ledger lacks; throws the signal's reason when aborted (progress
 * so far is kept). On a failure it starts no further run, lets the runs in flight finish, and throws.
 */
export async function backfill(opts: BackfillOptions): Promise<BackfillProgress> {
  const { log, signal } = opts;
  const { transaction, outputs } = opts.metadata;
  const concurrency = opts.concurrency ?? 2;
  const iceberg = createIcebergOutputs({ ...opts, concurrency, inFlight: concurrency });
  const started = performance.now();
  const runs = await outputs.backfillSource(opts);
  const progress: BackfillProgress = { runsTotal: runs.length, runsDone: 0, rowsTotal: runs.reduce((n, r) => n + r.rows, 0), rowsDone: 0, elapsedMs: 0 };
  const report = (runId?: string) => {
    progress.elapsedMs = Math.round(performance.now() - started);
    if (runId) progress.runId = runId;
    else delete progress.runId;
    opts.onProgress?.({ ...progress });
  };
  log.info("backfill_started", { runs: progress.runsTotal, rows: progress.rowsTotal, scenario_id: opts.scenarioId, from: opts.from, to: opts.to });

  const copy = (runId: string) =>
    transaction(async (tx) => {
      await outputs.lockRun(tx, runId);
      if (!opts.redo && (await outputs.backfilled(tx, runId))) return; // another backfill did it meanwhile
      const segments = await outputs.segments(tx, runId);
      const first = segments[0];
      if (!first) return; // its rows were deleted meanwhile
      let rows = 0;
      const onRows = (n: number) => {
        rows += n;
        progress.rowsDone += n;
        report(runId);
      };
      // Normally one segment; rows of a run that differ in as-of date, hash or timestamp keep theirs.
      const write = async (writeId: string) => {
        for (const [part, s] of segments.entries()) {
          const meta = { ...s, runId };
          await iceberg.run(iceberg.statementsFrom(meta, writeId, outputs.readSegment(tx, meta, READ_ROWS), part), meta, signal, onRows);
        }
        return rows;
      };
      const record = () => outputs.recordBackfill(tx, runId, rows);
      try {
        await replaceWrite(iceberg, { ...first, runId }, write, record);
      } catch (err) {
        progress.rowsDone -= rows;
        throw err;
      }
    });

  const queue = runs.values();
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    for (let next = queue.next(); !next.done && !failure; next = queue.next()) {
      try {
        signal?.throwIfAborted();
        report(next.value.run_id);
        await copy(next.value.run_id);
        progress.runsDone++;
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.runsAtOnce ?? 2) }, lane));
  if (failure) throw failure.err;
  report();
  log.info("backfill_finished", { runs: progress.runsDone, rows: progress.rowsDone, ms: Math.round(performance.now() - started) });
  return { ...progress, elapsedMs: Math.round(performance.now() - started) };
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
