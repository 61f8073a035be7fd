/**
 * The run queue port. Embedded mode: runs wait in the runs table and an in-process dispatcher is
 * woken. Kafka mode: the trigger transaction writes an outbox row that a relay publishes to
 * `aurum.scenario.request.v1`, so a Kafka outage delays runs and never loses them.
 */

import type { Tx } from "../adapters/postgres";
import { traceparent } from "../platform/trace";
import type { RunRecord } from "./model";
import type { OutboxRepo } from "./outbox";

export const REQUEST_TOPIC = "aurum.scenario.request.v1";
export const DLQ_TOPIC = "aurum.scenario.request.dlq.v1";
export const OUTPUT_TOPIC = "aurum.scenario.output.v1";

/** What a run committed, for its "outputs ready" event. */
export type CommittedOutputs = { rows: number; asofDate: string; versionHash: string };

export interface RunQueue {
  /**
   * Inside the transaction that made the run QUEUED (trigger, retry, reclaim): make it reach a
   * worker once the transaction commits, not before `delayMs` (a retry's backoff).
   */
  enqueue(tx: Tx, run: RunRecord, ctx: { requestId: string; delayMs?: number }): Promise<void>;
  /** Inside the transaction that fails a run for good: the dead-letter message (request + error), if this queue has a topic for it. */
  deadLetter(tx: Tx, run: RunRecord, error: Record<string, unknown>): Promise<void>;
  /** After commit: wake a local dispatcher, if any. */
  notify(): void;
  /** Abort the run now if this process executes it (remote workers see `cancel_requested`). */
  cancel(runId: string): void;
}

/** Version 1 of the run request message (documented in docs/events.md). */
export function requestMessage(run: RunRecord) {
  return {
    schema: "aurum.scenario.request",
    version: 1,
    run_id: run.id,
    scenario_id: run.scenario_id,
    tenant_id: run.tenant_id,
    priority: run.priority,
    input_hash: run.input_hash,
    queued_at: run.queued_at,
  };
}

/** Version 1 of the dead-letter message (docs/events.md): why, the error, and the request or the raw message. */
export function deadLetterMessage(letter: { reason: string; error: Record<string, unknown>; request?: unknown; source?: { topic: string; partition: number; offset: string } }) {
  return { schema: "aurum.scenario.dead_letter", version: 1, ...letter, at: new Date().toISOString() };
}

/** Version 1 of the "outputs ready" event (docs/events.md): a run's outputs committed and are readable. */
export function outputsReadyMessage(run: RunRecord, out: CommittedOutputs, at = new Date()) {
  return {
    schema: "aurum.scenario.outputs_ready",
    version: 1,
    run_id: run.id,
    scenario_id: run.scenario_id,
    tenant_id: run.tenant_id,
    rows: out.rows,
    asof_date: out.asofDate,
    version_hash: out.versionHash,
    committed_at: at.toISOString(),
  };
}

/** The run's trace id (set at trigger); runs from before it existed get one derived from the run id. */
export function runTraceId(run: Pick<RunRecord, "id" | "trace_id">): string {
  return run.trace_id ?? new Bun.CryptoHasher("sha256").update(run.id).digest("hex").slice(0, 32);
}

export type OutboxQueue = RunQueue & {
  onNotify(fn: () => void): void;
  /** Inside the transaction that commits a run's outputs and its SUCCEEDED state: the "outputs ready" event. */
  outputsReady(tx: Tx, run: RunRecord, out: CommittedOutputs): Promise<void>;
};

export type LocalQueue = RunQueue & { onNotify(fn: () => void): void; onCancel(fn: (runId: string) => void): void };

export function createLocalQueue(): LocalQueue {
  const wakeups = new Set<() => void>();
  const cancels = new Set<(runId: string) => void>();
  return {
    async enqueue() {},
    async deadLetter() {},
    notify: () => {
      for (const fn of wakeups) fn();
    },
    cancel: (runId) => {
      for (const fn of cancels) fn(runId);
    },
    onNotify: (fn) => void wakeups.add(fn),
    onCancel: (fn) => void cancels.add(fn),
  };
}

/** Kafka mode: an outbox row per message, published by the relay (relay.ts); `notify` wakes a relay in this process. */
export function createOutboxQueue(
  outbox: Pick<OutboxRepo, "insert">,
  topics: { request: string; deadLetter: string; output: string } = { request: REQUEST_TOPIC, deadLetter: DLQ_TOPIC, output: OUTPUT_TOPIC },
): OutboxQueue {
  const wakeups = new Set<() => void>();
  const insert = (tx: Tx, run: RunRecord, topic: string, requestId: string, payload: Record<string, unknown>, delayMs = 0) => {
    const headers = { run_id: run.id, request_id: requestId, traceparent: traceparent(runTraceId(run)) };
    return outbox.insert(tx, { runId: run.id, topic, key: run.scenario_id, headers, payload, delayMs });
  };
  return {
    async enqueue(tx, run, ctx) {
      await insert(tx, run, topics.request, ctx.requestId, requestMessage(run), ctx.delayMs);
    },
    async deadLetter(tx, run, error) {
      await insert(tx, run, topics.deadLetter, `dead-letter-${run.id}`, deadLetterMessage({ reason: "run failed", error, request: requestMessage(run) }));
    },
    async outputsReady(tx, run, out) {
      await insert(tx, run, topics.output, `outputs-${run.id}`, outputsReadyMessage(run, out));
    },
    notify: () => {
      for (const fn of wakeups) fn();
    },
    cancel() {},
    onNotify: (fn) => void wakeups.add(fn),
  };
}
