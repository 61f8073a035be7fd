/**
 * Bun Worker entry: runs the pure engine for one input and streams its batches back as they fill,
 * packed (messages.ts: text columns as codes, every array a transferred buffer). At most IN_FLIGHT batches are
 * posted and not yet taken by the pool's reader; the engine waits between curves for the reader to
 * take one, so a run's rows are never all in memory at once. Cancellation terminates the whole
 * thread (see pool.ts).
 */
import { DEFAULT_BATCH_ROWS, runScenarioStream } from "../engine";
import type { EngineInput } from "../engine/types";
import { type FromThread, IN_FLIGHT, packBatch, type ToThread } from "./messages";

declare const self: Worker;

/**
 * Batches a run posts before this thread's heap is collected fully after each one. Measured on
 * 2,040,000 rows with 1 engine thread and a reader that drops them: the process peaked at +165 MB
 * over idle with no collection, +79 MB with one after every batch (~20 ms each), +85–95 MB with
 * one every 4th. With a real writer (test/integration/run-memory.test.ts, 5,012,672 rows, stop 59)
 * one every 4th peaked at +132 and +140 MB, past the bound of +128, and one after every batch at
 * +83 MB in the same time (44.5 s against 43.2 s: such a run waits on its COPY, not on the engine).
 * A run of up to GC_AFTER batches (200,000 rows) collects nothing: a run of three had paid a full
 * collection (5-13 ms) before its last batch for garbage the next run's would free anyway. The
 * engine tells the run's size before its first batch, so a larger run collects from its first.
 */
const GC_AFTER = 4;

/** The job running now: its id, the batches it may still post before an ack, and who waits for one. */
let current: { jobId: number; credits: number; wake?: () => void } | undefined;

self.onmessage = (event: MessageEvent<ToThread>) => {
  const m = event.data;
  if (m.type === "ack") {
    if (current?.jobId !== m.jobId) return;
    current.credits++;
    current.wake?.();
    return;
  }
  void run(m.jobId, m.input);
};

async function run(jobId: number, input: EngineInput): Promise<void> {
  const job: NonNullable<typeof current> = { jobId, credits: IN_FLIGHT };
  let large = false;
  current = job;
  try {
    const stream = runScenarioStream(input, {
      attributionText: true,
      onProgress: (done, total) => post({ type: "progress", jobId, done, total }),
      onVersionHash: (versionHash, rows) => {
        large = rows > GC_AFTER * DEFAULT_BATCH_ROWS;
        post({ type: "started", jobId, versionHash, rows });
      },
    });
    for (;;) {
      const next = stream.next();
      if (next.done) {
        post({ type: "done", jobId, rows: next.value.rows, bandStats: next.value.bandStats });
        return;
      }
      // The batches posted so far are copies now, garbage here; left to the collector's own pace,
      // a large run's pile up faster than it frees them (GC_AFTER).
      if (large) Bun.gc(true);
      while (job.credits === 0) await new Promise<void>((resolve) => (job.wake = resolve));
      job.credits--;
      const { packed, transfer } = packBatch(next.value);
      post({ type: "batch", jobId, batch: packed }, transfer);
    }
  } catch (err) {
    // The code and the retry verdict too (e.g. NON_FINITE_OUTPUT, not retryable): the main thread classifies the failure by them (failure.ts).
    const { code, retryable } = (err ?? {}) as { code?: unknown; retryable?: unknown };
    post({
      type: "error",
      jobId,
      message: err instanceof Error ? err.message : String(err),
      name: err instanceof Error ? err.name : "Error",
      ...(typeof code === "string" ? { code } : {}),
      ...(typeof retryable === "boolean" ? { retryable } : {}),
    });
  } finally {
    if (current === job) current = undefined;
  }
}

function post(message: FromThread, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}
