/**
 * A fixed pool of Bun Workers running the engine. One job per thread at a time; extra jobs wait.
 * A job's batches stream to one reader as the engine fills them, at most IN_FLIGHT of them not yet
 * taken (the thread waits for the reader), so a run's rows are never all in memory.
 * Aborting a job terminates its thread and starts a fresh one: the engine is synchronous, so a
 * message could not interrupt it, and termination stops it at once. A thread that ends by itself,
 * or sends nothing for a job for a minute while it owes the reader a batch, is replaced the same
 * way and its job fails (retryable), so a run never waits forever on a thread while its lease is kept alive.
 */
import type { BandStats, EngineInput, OutputBatch } from "../engine/types";
import { type FromThread, IN_FLIGHT, type ToThread, unpackBatch } from "./messages";

export type JobSummary = { versionHash: string; rows: number; bandStats?: BandStats };
export type Job = {
  /** Known before the first batch: the run's version hash (every row carries it) and how many rows it will have. */
  started: Promise<{ versionHash: string; rows: number }>;
  /**
   * The batches in the order the engine fills them, for one reader; taking one lets the thread go
   * on. Ends after the last batch; throws what the job failed with (or AbortedError).
   */
  batches: AsyncIterable<OutputBatch>;
  /** The summary once the engine has finished, or the job's failure. */
  result: Promise<JobSummary>;
  /** Fails the job and replaces its thread; a no-op once the job has ended. */
  abort: (reason: string) => void;
};
export type JobCallbacks = { onProgress?: (fraction: number) => void };

export class AbortedError extends Error {
  override name = "AbortError";
}

/** A thread that ended while it ran a job, without an error event (the job fails and can be retried). */
export class ThreadExitedError extends Error {
  override name = "ThreadExitedError";
  constructor() {
    super("engine thread exited before its job finished");
  }
}

/** A thread that sent nothing for the job it runs for longer than the pool's silence limit (it is replaced; the job can be retried). */
export class ThreadSilentError extends Error {
  override name = "ThreadSilentError";
  constructor(ms: number) {
    super(`engine thread sent nothing for ${Math.round(ms / 1000)} s; it was replaced`);
  }
}

/**
 * `lost`: how the job running on the slot fails when its thread ends on its own or falls silent.
 * `heardAt`: when the thread last sent anything for that job, or was last acked.
 * `untaken`: batches it posted that the reader has not taken; at IN_FLIGHT the thread waits on us, not silent.
 */
type Slot = { worker: Worker; busy: boolean; lost?: (err: Error) => void; heardAt: number; untaken: number };

/**
 * How long a thread running a job may send nothing before it is taken for hung: the engine reports
 * after every curve, and one curve at the largest settings takes well under a second.
 */
const SILENCE_MS = 60_000;
type Waiting = { start: (slot: Slot) => void };

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Waiting[] = [];
  private nextJob = 1;
  private closed = false;
  private readonly silenceMs: number;
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(
    readonly size: number,
    o: { silenceMs?: number } = {},
  ) {
    for (let i = 0; i < size; i++) {
      const slot = { busy: false, heardAt: 0, untaken: 0 } as Slot;
      slot.worker = this.spawn(slot);
      this.slots.push(slot);
    }
    this.silenceMs = o.silenceMs ?? SILENCE_MS;
    this.watchdog = setInterval(() => this.replaceSilent(), Math.max(10, Math.min(5_000, this.silenceMs / 4)));
    this.watchdog.unref?.();
  }

  /** Jobs running now (for the utilisation metric). */
  get busy(): number {
    return this.slots.filter((s) => s.busy).length;
  }

  run(input: EngineInput, callbacks: JobCallbacks = {}): Job {
    const started = Promise.withResolvers<{ versionHash: string; rows: number }>();
    const result = Promise.withResolvers<JobSummary>();
    // Whoever does not wait on these must not see an unhandled rejection.
    started.promise.catch(() => {});
    result.promise.catch(() => {});
    const stream = new BatchStream();
    let settled = false;
    let current: Slot | undefined;
    let jobId = 0;
    let hash = "";

    const end = (slot: Slot | undefined, outcome: { summary: JobSummary } | { error: Error }) => {
      if (settled) return;
      settled = true;
      if (slot) this.release(slot);
      if ("summary" in outcome) {
        stream.end();
        result.resolve(outcome.summary);
      } else {
        stream.fail(outcome.error);
        started.reject(outcome.error);
        result.reject(outcome.error);
      }
    };
    const entry: Waiting = {
      start: (slot) => {
        current = slot;
        jobId = this.nextJob++;
        slot.heardAt = performance.now();
        slot.untaken = 0;
        stream.onTake = () => {
          if (settled) return;
          slot.untaken--;
          slot.heardAt = performance.now();
          slot.worker.postMessage({ type: "ack", jobId } satisfies ToThread);
        };
        slot.worker.onmessage = (event: MessageEvent<FromThread>) => {
          const m = event.data;
          if (m.jobId !== jobId) return;
          slot.heardAt = performance.now();
          if (m.type === "progress") callbacks.onProgress?.(m.total ? m.done / m.total : 0);
          else if (m.type === "started") {
            hash = m.versionHash;
            started.resolve({ versionHash: hash, rows: m.rows });
          } else if (m.type === "batch") {
            slot.untaken++;
            stream.push(unpackBatch(m.batch));
          } else if (m.type === "done") end(slot, { summary: { versionHash: hash, rows: m.rows, bandStats: m.bandStats } });
          else
            end(slot, {
              error: Object.assign(new Error(m.message), { name: m.name }, m.code ? { code: m.code } : {}, m.retryable === undefined ? {} : { retryable: m.retryable }),
            });
        };
        slot.worker.onerror = (event) => end(slot, { error: new Error(`engine thread crashed: ${event.message}`) });
        slot.lost = (err) => end(slot, { error: err });
        slot.worker.postMessage({ type: "run", jobId, input } satisfies ToThread);
      },
    };
    const abort = (reason: string) => {
      if (settled) return;
      const slot = current;
      if (slot) {
        // Replace the thread before releasing the slot, so the next job gets a live one.
        slot.worker.terminate();
        slot.worker = this.spawn(slot);
      } else {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
      }
      end(slot, { error: new AbortedError(reason) });
    };
    this.acquire(entry);
    return { started: started.promise, batches: stream, result: result.promise, abort };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const s of this.slots) s.worker.terminate();
  }

  /**
   * A thread for `slot`. Should it end by itself (not by terminate(), after which the slot already
   * holds its replacement), the slot gets a new thread and its job fails: without this the job
   * would wait forever while the executor's heartbeat kept the run's lease alive.
   */
  private spawn(slot: Slot): Worker {
    const worker = new Worker(new URL("./thread.ts", import.meta.url).href);
    worker.addEventListener("close", () => {
      if (this.closed || slot.worker !== worker) return;
      slot.worker = this.spawn(slot);
      slot.lost?.(new ThreadExitedError());
    });
    return worker;
  }

  /** A thread silent for too long while it runs a job is replaced, and its job fails (retryable). */
  private replaceSilent(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      if (!slot.lost || slot.untaken >= IN_FLIGHT || now - slot.heardAt <= this.silenceMs) continue;
      const silent = slot.worker;
      slot.worker = this.spawn(slot);
      silent.terminate();
      slot.lost(new ThreadSilentError(now - slot.heardAt));
    }
  }

  private acquire(entry: Waiting): void {
    if (this.closed) throw new Error("worker pool is closed");
    const free = this.slots.find((s) => !s.busy);
    if (!free) {
      this.waiting.push(entry);
      return;
    }
    free.busy = true;
    entry.start(free);
  }

  private release(slot: Slot): void {
    slot.worker.onmessage = null;
    slot.worker.onerror = null;
    slot.lost = undefined;
    const next = this.waiting.shift();
    if (next) next.start(slot);
    else slot.busy = false;
  }
}

/** Batches a reader takes between two full collections of the main thread's heap (~20 ms each). */
const GC_EVERY_TAKEN = 4;

/**
 * The batches of one job on their way to one reader: pushed as they arrive from the thread, taken
 * in order; `onTake` acks each taken one to the thread. After a failure the reader gets the error,
 * not the batches still queued (they would be thrown away anyway).
 */
class BatchStream implements AsyncIterable<OutputBatch> {
  onTake: () => void = () => {};
  private readonly queue: OutputBatch[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private taken = 0;

  push(batch: OutputBatch): void {
    this.queue.push(batch);
    this.notify();
  }
  end(): void {
    this.ended = true;
    this.notify();
  }
  fail(err: Error): void {
    this.failure = err;
    this.queue.length = 0;
    this.notify();
  }
  private notify(): void {
    this.wake?.();
    this.wake = undefined;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<OutputBatch> {
    for (;;) {
      if (this.failure) throw this.failure;
      const next = this.queue.shift();
      if (next) {
        this.onTake();
        yield next;
        // The batch the reader just finished with is garbage (as are its COPY text or INSERT
        // statements); left to the collector's pace, a large run's pile up (docs/runs.md, "Memory").
        if (++this.taken % GC_EVERY_TAKEN === 0) Bun.gc(true);
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
