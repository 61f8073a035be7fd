/**
 * A fixed pool of Bun Workers running the engine. One job per thread at a time; extra jobs wait.
 * Aborting a job terminates its thread and starts a fresh one: the engine is synchronous, so a
 * message could not interrupt it, and termination stops it at once. A thread that ends by itself,
 * or sends nothing for a job for a minute, is replaced the same way and its job fails (retryable),
 * so a run never waits forever on a thread while its lease is kept alive.
 */
import type { BandStats, EngineInput, OutputBatch } from "../engine/types";
import type { FromThread } from "./messages";

export type JobResult = { batches: OutputBatch[]; versionHash: string; rows: number; bandStats?: BandStats };
export type Job = { result: Promise<JobResult>; abort: (reason: string) => void };
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
 * `heardAt`: when the thread last sent anything for that job (or the job started).
 */
type Slot = { worker: Worker; busy: boolean; lost?: (err: Error) => void; heardAt: number };

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
      const slot = { busy: false, heardAt: 0 } as Slot;
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
    let abort: (reason: string) => void = () => {};
    const result = new Promise<JobResult>((resolve, reject) => {
      let settled = false;
      let current: Slot | undefined;
      const finish = (slot: Slot | undefined, fn: () => void) => {
        if (settled) return;
        settled = true;
        if (slot) this.release(slot);
        fn();
      };
      abort = (reason) => {
        const slot = current;
        if (slot) {
          // Replace the thread before releasing the slot, so the next job gets a live one.
          slot.worker.terminate();
          slot.worker = this.spawn(slot);
        } else {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
        }
        finish(slot, () => reject(new AbortedError(reason)));
      };
      const entry: Waiting = {
        start: (slot) => {
          current = slot;
          const jobId = this.nextJob++;
          const batches: OutputBatch[] = [];
          slot.heardAt = performance.now();
          slot.worker.onmessage = (event: MessageEvent<FromThread>) => {
            const m = event.data;
            if (m.jobId !== jobId) return;
            slot.heardAt = performance.now();
            if (m.type === "progress") callbacks.onProgress?.(m.total ? m.done / m.total : 0);
            else if (m.type === "batch") batches.push(m.batch);
            else if (m.type === "done") finish(slot, () => resolve({ batches, versionHash: m.versionHash, rows: m.rows, bandStats: m.bandStats }));
            else finish(slot, () => reject(Object.assign(new Error(m.message), { name: m.name }, m.code ? { code: m.code } : {})));
          };
          slot.worker.onerror = (event) => finish(slot, () => reject(new Error(`engine thread crashed: ${event.message}`)));
          slot.lost = (err) => finish(slot, () => reject(err));
          slot.worker.postMessage({ jobId, input });
        },
      };
      this.acquire(entry);
    });
    return { result, abort: (reason) => abort(reason) };
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
      if (!slot.lost || now - slot.heardAt <= this.silenceMs) continue;
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
