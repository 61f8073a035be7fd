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

export interface OutputWriter {
  /**
   * Replaces every row of the run with `batches`. `commit` runs in the same metadata transaction
   * (it marks the run SUCCEEDED); if it throws, no row of this call stays. Returns rows written.
   */
  replaceRun(meta: RunOutputMeta, batches: OutputBatch[], commit: (tx: Tx) => Promise<void>): Promise<number>;
  deleteRun(runId: string): Promise<void>;
}
