/**
 * The output store port, write side. A run's rows are written in two steps: `stage` writes them
 * where no reader sees them, while the engine computes; then the worker, in its own metadata
 * transaction, publishes them, checks that the run is still its own, marks it SUCCEEDED and seals
 * them. The store never runs the worker's SQL, and the worker never runs the store's.
 */
import type { Transaction, Tx } from "../adapters/postgres";
import type { OutputBatch } from "../engine/types";

export type RunOutputMeta = {
  tenantId: string;
  scenarioId: string;
  runId: string;
  asofDate: string;
  versionHash: string;
  computedTs: string;
  /** The run's W3C trace id: the Iceberg writer sends it to Trino with each statement. */
  traceId?: string;
  /** The run's row total, where it is known before the first batch (the engine knows it): a Postgres writer then stages a run past its sort budget from the first row. */
  rows?: number;
};

/** A run's batches: all at hand (an array), or streamed from the engine as it fills them (read once). */
export type OutputBatches = Iterable<OutputBatch> | AsyncIterable<OutputBatch>;

/** Either kind of OutputBatches as one async stream (what a writer reads). */
export async function* batchStream(batches: OutputBatches): AsyncGenerator<OutputBatch> {
  yield* batches;
}

/**
 * A run's rows, staged: written, not yet the run's. Call `publish`, then the caller's own checks,
 * then `seal`, all in one transaction; `discard` when that transaction did not commit.
 */
export interface StagedRun {
  /** Rows staged. */
  readonly rows: number;
  /**
   * In the caller's transaction, before its checks: the staged rows replace the run's rows
   * (Postgres), or the run's output lock is taken (Iceberg). Rolls back with the transaction.
   */
  publish(tx: Tx): Promise<void>;
  /**
   * Last in that transaction, once the caller's checks have passed: what cannot be rolled back
   * (Iceberg: the run's rows of every other write are deleted). Postgres has nothing to do here.
   */
  seal(tx: Tx): Promise<void>;
  /** Frees what was staged; only when that transaction did not commit (Iceberg: it deletes this write's rows). Never throws. */
  discard(): Promise<void>;
}

export interface OutputWriter {
  /**
   * Stages the run's rows from `batches`, read once and in order (a writer holds at most a
   * bounded number of rows). No transaction of the caller is open meanwhile. If reading a batch
   * throws, nothing of this call stays.
   */
  stage(meta: RunOutputMeta, batches: OutputBatches): Promise<StagedRun>;
  deleteRun(runId: string): Promise<void>;
}

/**
 * Stages a run's rows and publishes them in one transaction, with `checks` (the caller's own SQL,
 * which may throw to roll everything back) between publish and seal, as the worker does
 * (src/worker/executor.ts). For tools, benches and tests. Returns rows written.
 */
export async function writeRun(
  writer: OutputWriter,
  transaction: Transaction,
  meta: RunOutputMeta,
  batches: OutputBatches,
  checks: (tx: Tx) => Promise<void> = async () => {},
): Promise<number> {
  const staged = await writer.stage(meta, batches);
  try {
    await transaction(async (tx) => {
      await staged.publish(tx);
      await checks(tx);
      await staged.seal(tx);
    });
  } catch (err) {
    await staged.discard();
    throw err;
  }
  return staged.rows;
}
