/**
 * Bun Worker entry: runs the pure engine for one input and posts the batches back, typed arrays
 * that own their buffer transferred rather than copied. Cancellation terminates the whole thread (see pool.ts).
 */
import { runScenario } from "../engine";
import type { EngineInput } from "../engine/types";
import type { FromThread, ToThread } from "./messages";

declare const self: Worker;

self.onmessage = (event: MessageEvent<ToThread>) => {
  const { jobId, input } = event.data;
  try {
    const result = runScenario(input as EngineInput, {
      onProgress: (done, total) => post({ type: "progress", jobId, done, total }),
    });
    for (const batch of result.batches) {
      post({ type: "batch", jobId, batch }, ownedBuffers(batch));
    }
    post({ type: "done", jobId, versionHash: result.versionHash, rows: result.rows, bandStats: result.bandStats });
  } catch (err) {
    // The code too (e.g. NON_FINITE_OUTPUT): the main thread classifies the failure by it (failure.ts).
    const code = (err as { code?: unknown } | null)?.code;
    post({
      type: "error",
      jobId,
      message: err instanceof Error ? err.message : String(err),
      name: err instanceof Error ? err.name : "Error",
      ...(typeof code === "string" ? { code } : {}),
    });
  }
};

/** Buffers safe to transfer: views that cover their whole buffer (a shared buffer would be detached for its siblings). */
function ownedBuffers(batch: { contractMonth: Int32Array; value: Float64Array; bandLower: Float64Array; bandUpper: Float64Array }): ArrayBuffer[] {
  const views = [batch.contractMonth, batch.value, batch.bandLower, batch.bandUpper];
  const buffers = views.filter((v) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength).map((v) => v.buffer as ArrayBuffer);
  return new Set(buffers).size === buffers.length ? buffers : [];
}

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}
