/**
 * Executes one claimed run: engine input → pool thread → output store → SUCCEEDED, with a lease
 * heartbeat, a timeout, cancellation, and retries with exponential backoff and jitter.
 */

import type { Tx } from "../adapters/postgres";
import { type OutputWriter, writeRun } from "../outputs/store";
import { type Logger, withFields } from "../platform/logger";
import { withTimeout } from "../platform/timers";
import type { RunRecord } from "../runs/model";
import { type CommittedOutputs, runTraceId } from "../runs/queue";
import { classifyFailure, type RunStep, rawText } from "./failure";
import { AbortedError, type Job, type WorkerPool } from "./pool";
import type { RunStore } from "./run-store";

export type ExecutorOptions = {
  workerId: string;
  leaseMs: number;
  retryBaseMs: number;
  /** Called after a run failed for good (its dead-letter message is already in the outbox in Kafka mode). */
  onDeadLetter?: (run: RunRecord, error: Record<string, unknown>) => Promise<void>;
  /**
   * Called inside the transaction that commits a run's outputs and its SUCCEEDED state (the cache
   * records the bump it owes; Kafka mode writes the "outputs ready" event to the outbox).
   */
  onCommitting?: (tx: Tx, run: RunRecord, out: CommittedOutputs) => Promise<void>;
  /** Called after a run's outputs commit (the cache bumps its version here). */
  onSucceeded?: (run: RunRecord, rows: number) => Promise<void>;
  /** Length of the minute that `timeout_minutes` counts (60 000; tests shorten it). */
  minuteMs?: number;
  /** How long reading a run's inputs may take before the attempt fails and is retried (default 60 s). */
  inputTimeoutMs?: number;
};

/**
 * Reading a run's inputs takes milliseconds. One that has not answered in a minute (a database
 * connection that hangs) fails the attempt, which is retried, instead of holding the run while the
 * heartbeat keeps its lease alive.
 */
const INPUT_TIMEOUT_MS = 60_000;

class LostRunError extends Error {
  override name = "LostRunError";
}

export type Outcome = "SUCCEEDED" | "FAILED" | "CANCELLED" | "RETRY" | "LOST";

/** What a worker reports about its runs (`aurum_scenario_runs_total` and the run duration; Prometheus: createRunMetrics in src/adapters/metrics.ts). */
export type RunMetrics = {
  started(): void;
  /** One attempt ended with `outcome` after `seconds` of wall time. */
  finished(outcome: Outcome, seconds: number): void;
  deadLettered(): void;
};

/** Delay before attempt n+1: base × 2^(n−1), ±50 % jitter, capped at 5 minutes. */
export function backoffMs(base: number, attempt: number, random = Math.random): number {
  const exp = Math.min(base * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(exp * (0.5 + random()));
}

/** Extends the run's lease every third of it (at least every second) until stopped; a lost lease or a cancel stops the run. */
function startHeartbeat(store: RunStore, run: RunRecord, leaseMs: number, progress: () => number, stop: (reason: "cancelled" | "lease lost") => void, log: Logger) {
  return setInterval(
    async () => {
      try {
        const beat = await store.heartbeat(run.id, progress());
        if (!beat.keep) stop(beat.cancelled ? "cancelled" : "lease lost");
      } catch (err) {
        log.warn("scenario_run_heartbeat_failed", { error: (err as Error).message });
      }
    },
    // At least every second, so a cancel requested through another process lands within 2 s.
    Math.min(1000, Math.floor(leaseMs / 3)),
  );
}

/**
 * The transaction in which a run's rows become visible: still ours (else LostRunError rolls the
 * rows back), not cancelled meanwhile (`onCancelled`, then a rollback), then SUCCEEDED with its result.
 */
function commitSucceeded(
  store: RunStore,
  options: ExecutorOptions,
  run: RunRecord,
  out: { rows: number; bandStats: unknown; asofDate: string; versionHash: string },
  onCancelled: () => void,
) {
  return async (tx: Tx) => {
    const row = await store.runs.lockRunning(tx, run.id);
    // Reclaimed after our lease lapsed (another worker owns it now) or moved on by an admin: roll our rows back.
    if (row?.lease_owner !== options.workerId) throw new LostRunError();
    // A cancel that arrived while the rows were being written wins over completion.
    if (row.cancel_requested) {
      onCancelled();
      throw new Error("cancelled while writing outputs");
    }
    await store.runs.transition(tx, run.id, ["RUNNING"], "SUCCEEDED", { by: options.workerId, reason: "completed" });
    await store.runs.recordResult(tx, run.id, out.rows, out.bandStats);
    await options.onCommitting?.(tx, run, { rows: out.rows, asofDate: out.asofDate, versionHash: out.versionHash });
  };
}

/**
 * How an attempt that did not succeed ends (docs/runs.md "Retries"): lost, handed back, cancelled,
 * timed out, retried with backoff, or FAILED with one dead letter.
 */
function createSettler(deps: { store: RunStore; writer: OutputWriter; metrics: RunMetrics | undefined; options: ExecutorOptions; logOf: (run: RunRecord) => Logger }) {
  const { store, writer, metrics, options, logOf } = deps;

  async function deadLettered(run: RunRecord, error: Record<string, unknown>): Promise<void> {
    metrics?.deadLettered();
    await options.onDeadLetter?.(run, error);
  }

  /** After a retry or hand-back found the cancel requested and ended the run: rows a store may hold from this attempt go. */
  async function cancelled(run: RunRecord): Promise<"CANCELLED"> {
    await writer.deleteRun(run.id);
    logOf(run).info("scenario_run_cancelled");
    return "CANCELLED";
  }

  async function settleFailure(run: RunRecord, err: unknown, stopReason: string | undefined, step: RunStep): Promise<Outcome> {
    if (stopReason === "lease lost" || err instanceof LostRunError) return "LOST";
    if (stopReason === "handback") {
      // Shutting down: give the run back untouched; its attempt does not count against the budget.
      const back = await store.scheduleRetry(run.id, 0, { code: "HANDED_BACK", message: "worker shut down before the run finished" }, true);
      return back?.state === "CANCELLED" ? cancelled(run) : back ? "RETRY" : "LOST";
    }
    if (stopReason === "cancelled") {
      await writer.deleteRun(run.id);
      const done = await store.finish(run.id, "CANCELLED", "cancelled by user");
      logOf(run).info("scenario_run_cancelled");
      return done ? "CANCELLED" : "LOST";
    }
    if (stopReason === "timeout") {
      const e = { code: "TIMEOUT", message: `run exceeded its timeout of ${run.timeout_minutes} minute(s)`, attempt: run.attempts };
      if (await store.finish(run.id, "FAILED", "timeout", e)) await deadLettered(run, e);
      return "FAILED";
    }
    const failure = classifyFailure(err, step);
    const error = { code: failure.code, message: failure.message, attempt: run.attempts };
    // The raw text (driver messages, stacks) goes to the log, with the run id, and nowhere else.
    const logged = {
      run_id: run.id,
      attempt: run.attempts,
      step,
      code: failure.code,
      error: rawText(err),
      ...(failure.redacted && err instanceof Error ? { stack: err.stack } : {}),
    };
    // A deterministic failure (bad input, a non-finite value) never gets better by retrying.
    if (failure.retryable && run.attempts <= run.max_retries) {
      const delay = backoffMs(options.retryBaseMs, run.attempts);
      const back = await store.scheduleRetry(run.id, delay, error);
      // A cancel requested before the heartbeat saw it ends the run rather than another attempt.
      if (back?.state === "CANCELLED") return cancelled(run);
      logOf(run).warn("scenario_run_retry_scheduled", { ...logged, delay_ms: delay });
      return "RETRY";
    }
    if (await store.finish(run.id, "FAILED", failure.retryable ? "retries exhausted" : "not retryable", error)) await deadLettered(run, error);
    logOf(run).error("scenario_run_failed", logged);
    return "FAILED";
  }

  return settleFailure;
}

/**
 * The job's own failure, if it failed by itself (not aborted by this attempt). A job still running
 * (the writer failed first) is aborted here, which also frees its thread.
 */
async function engineFailure(job: Job): Promise<unknown> {
  job.abort("the run's outputs could not be written");
  const err = await job.result.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof AbortedError ? undefined : err;
}

export function createExecutor(deps: { store: RunStore; pool: WorkerPool; writer: OutputWriter; log: Logger; metrics?: RunMetrics; options: ExecutorOptions }) {
  const { store, pool, writer, log, metrics, options } = deps;
  /** Every line about a run carries its id and its W3C trace id (one grep follows it across processes). */
  const logOf = (run: RunRecord) => withFields(log, { run_id: run.id, trace_id: runTraceId(run) });
  /** Stop functions of the runs executing in this process. */
  const running = new Map<string, (reason: "cancelled" | "handback") => void>();
  const settleFailure = createSettler({ store, writer, metrics, options, logOf });

  async function execute(run: RunRecord): Promise<Outcome> {
    metrics?.started();
    const started = performance.now();
    const outcome = await attempt(run);
    metrics?.finished(outcome, (performance.now() - started) / 1000);
    return outcome;
  }

  async function attempt(run: RunRecord): Promise<Outcome> {
    const started = performance.now();
    let progress = 0;
    let stopReason: "cancelled" | "timeout" | "lease lost" | "handback" | undefined;
    // Which step a failure came from decides how it is shown (failure.ts).
    let step: RunStep = "input";
    let job: Job | undefined;
    const stop = (reason: NonNullable<typeof stopReason>) => {
      stopReason ??= reason;
      job?.abort(reason);
    };
    running.set(run.id, stop);
    const heartbeat = startHeartbeat(store, run, options.leaseMs, () => progress, stop, logOf(run));
    const timeout = setTimeout(() => stop("timeout"), run.timeout_minutes * (options.minuteMs ?? 60_000));
    try {
      logOf(run).info("scenario_run_started", { attempt: run.attempts, scenario_id: run.scenario_id, tenant_id: run.tenant_id });
      const inputMs = options.inputTimeoutMs ?? INPUT_TIMEOUT_MS;
      const input = await withTimeout(store.engineInput(run), inputMs, () => {
        throw new Error(`reading the run's inputs took over ${inputMs / 1000} s`);
      });
      step = "engine";
      const current = pool.run(input, { onProgress: (f) => (progress = f) });
      job = current;
      if (stopReason) current.abort(stopReason);
      const { versionHash, rows: expectedRows } = await current.started;
      // The engine goes on filling batches while the writer stages them (at most IN_FLIGHT wait).
      step = "output";
      const meta = {
        tenantId: run.tenant_id,
        scenarioId: run.scenario_id,
        runId: run.id,
        asofDate: input.asofDate,
        versionHash,
        computedTs: new Date().toISOString(),
        traceId: runTraceId(run),
        rows: expectedRows,
      };
      // The staged rows become the run's in this worker's transaction, with its own checks (still
      // ours, not cancelled) and SUCCEEDED between the store's publish and seal (store.ts).
      const rows = await writeRun(writer, store.transaction, meta, current.batches, async (tx) => {
        const result = await current.result;
        const out = { rows: result.rows, bandStats: result.bandStats, asofDate: input.asofDate, versionHash };
        await commitSucceeded(store, options, run, out, () => {
          stopReason ??= "cancelled";
        })(tx);
      });
      logOf(run).info("scenario_run_succeeded", { rows, attempt: run.attempts, duration_ms: Math.round(performance.now() - started) });
      await options.onSucceeded?.(run, rows);
      return "SUCCEEDED";
    } catch (err) {
      // A failure of the engine reaches the writer through the batches: classify it as the engine's.
      const engine = job ? await engineFailure(job) : undefined;
      return await settleFailure(run, engine ?? err, stopReason, engine ? "engine" : step);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
      running.delete(run.id);
    }
  }

  return {
    execute,
    /** Aborts a run executing in this process now (the heartbeat would notice within a third of the lease anyway). */
    cancel(runId: string) {
      running.get(runId)?.("cancelled");
    },
    get active() {
      return running.size;
    },
    /** Shutdown: hand every running run back to the queue. */
    handBackAll() {
      for (const stop of running.values()) stop("handback");
    },
  };
}

export type Executor = ReturnType<typeof createExecutor>;
