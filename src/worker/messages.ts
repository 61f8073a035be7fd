/** Messages between the pool (main thread) and its engine threads. */
import type { BandStats, EngineInput, OutputBatch } from "../engine/types";

export type ToThread = { jobId: number; input: EngineInput };

export type FromThread =
  | { type: "progress"; jobId: number; done: number; total: number }
  | { type: "batch"; jobId: number; batch: OutputBatch }
  | { type: "done"; jobId: number; versionHash: string; rows: number; bandStats: BandStats }
  /** `name` and `code` travel as strings (a thrown class does not survive the clone): the executor classifies by them. */
  | { type: "error"; jobId: number; message: string; name: string; code?: string };
