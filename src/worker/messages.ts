/** Messages between the pool (main thread) and its engine threads. */
import type { BandStats, EngineInput, OutputBatch } from "../engine/types";

/** Batches a thread may have posted that the pool's reader has not taken yet (each taken one is acked). */
export const IN_FLIGHT = 2;

export type ToThread = { type: "run"; jobId: number; input: EngineInput } | { type: "ack"; jobId: number };

export type FromThread =
  | { type: "started"; jobId: number; versionHash: string }
  | { type: "progress"; jobId: number; done: number; total: number }
  | { type: "batch"; jobId: number; batch: OutputBatch }
  | { type: "done"; jobId: number; rows: number; bandStats: BandStats }
  /** `name` and `code` travel as strings (a thrown class does not survive the clone): the executor classifies by them. */
  | { type: "error"; jobId: number; message: string; name: string; code?: string };
