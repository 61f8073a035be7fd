/**
 * The run queue port. Embedded mode: runs wait in the runs table and an in-process dispatcher is
 * woken. Kafka mode: the trigger transaction writes an outbox row that a relay publishes to
 * `aurum.scenario.request.v1`, so a Kafka outage delays runs and never loses them.
 */
import type { RunRecord } from "./model";
import type { Tx } from "./repo";

export const REQUEST_TOPIC = "aurum.scenario.request.v1";

export interface RunQueue {
  /** Inside the trigger transaction: make the run reach a worker once the transaction commits. */
  enqueue(tx: Tx, run: RunRecord, ctx: { requestId: string }): Promise<void>;
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

/** W3C trace context for a request id: a stable trace id derived from it, a fresh span id. */
export function traceparent(requestId: string): string {
  const traceId = new Bun.CryptoHasher("sha256").update(requestId).digest("hex").slice(0, 32);
  const spanId = crypto.getRandomValues(new Uint8Array(8)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
  return `00-${traceId}-${spanId}-01`;
}

export type LocalQueue = RunQueue & { onNotify(fn: () => void): void; onCancel(fn: (runId: string) => void): void };

export function createLocalQueue(): LocalQueue {
  const wakeups = new Set<() => void>();
  const cancels = new Set<(runId: string) => void>();
  return {
    async enqueue() {},
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

export function createOutboxQueue(): RunQueue {
  return {
    async enqueue(tx, run, ctx) {
      const headers = { run_id: run.id, request_id: ctx.requestId, traceparent: traceparent(ctx.requestId) };
      await tx`insert into run_outbox (run_id, topic, msg_key, headers, payload)
               values (${run.id}, ${REQUEST_TOPIC}, ${run.scenario_id}, ${tx.json(headers)}, ${tx.json(requestMessage(run) as never)})`;
    },
    notify() {},
    cancel() {},
  };
}
