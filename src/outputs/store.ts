/** The output store port, write side: a run's rows are replaced as a whole, never appended twice. */
import type { Tx } from "../adapters/postgres";
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
};

/** A run's batches: all at hand (an array), or streamed from the engine as it fills them (read once). */
export type OutputBatches = Iterable<OutputBatch> | AsyncIterable<OutputBatch>;

/** Either kind of OutputBatches as one async stream (what a writer reads). */
export async function* batchStream(batches: OutputBatches): AsyncGenerator<OutputBatch> {
  yield* batches;
}

export interface OutputWriter {
  /**
   * Replaces every row of the run with `batches`, read once and in order (a writer holds at most a
   * bounded number of rows). `commit` runs in the same metadata transaction after the last batch
   * (it marks the run SUCCEEDED); if it or reading a batch throws, no row of this call stays.
   * Returns rows written.
   */
  replaceRun(meta: RunOutputMeta, batches: OutputBatches, commit: (tx: Tx) => Promise<void>): Promise<number>;
  deleteRun(runId: string): Promise<void>;
}
