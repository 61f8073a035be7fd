/**
 * The in-process dispatcher of embedded mode: claims QUEUED runs from the runs table (fair across
 * tenants, then priority, then age: RunStore.nextQueued) up to the pool's concurrency, reclaims runs whose lease expired, and wakes on new
 * runs or every poll interval. Kafka mode replaces it with a consumer; the executor is the same.
 */
import type { Logger } from "../platform/logger";
import type { LocalQueue } from "../runs/queue";
import type { Executor } from "./executor";
import type { RunStore } from "./run-store";

export type Dispatcher = { stop: () => Promise<void>; readonly active: number };

/**
 * A step of the loop (a database call) that has not returned in this long is logged once, with its
 * name: a dispatcher stuck in one claims nothing and would say nothing. So is a run that no claim
 * could lock, pass after pass, for this long. (A full test run twice saw a run stay QUEUED with
 * attempt 0 for 120 s while the service's log showed nothing of why.)
 */
const STALL_MS = 30_000;
/** Runs one pass of the loop passes over (claims that could not lock them) before it waits for the next. */
const MAX_PASSED_OVER = 8;

export function startDispatcher(deps: {
  store: RunStore;
  executor: Executor;
  queue: LocalQueue;
  concurrency: number;
  pollMs: number;
  log: Logger;
  /** STALL_MS unless a test shortens it. */
  stallMs?: number;
}): Dispatcher {
  const { store, executor, queue, concurrency, pollMs, log, stallMs = STALL_MS } = deps;
  let active = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  queue.onNotify(poke);
  queue.onCancel((runId) => executor.cancel(runId));

  let step: { name: string; since: number; warned: boolean } | undefined;
  const during = async <T>(name: string, call: () => Promise<T>): Promise<T> => {
    step = { name, since: Date.now(), warned: false };
    try {
      return await call();
    } finally {
      step = undefined;
    }
  };
  // A run that nextQueued offers and claim cannot lock (another transaction is changing its row)
  // is passed over for the rest of the pass: the runs behind it are claimed. A run refused in every
  // pass that offered runs, for stallMs, is logged once (a busy worker's passes between offer none).
  const refused = new Map<string, { since: number; warned: boolean }>();
  const notClaimed = (id: string) => {
    const r = refused.get(id) ?? { since: Date.now(), warned: false };
    refused.set(id, r);
    if (!r.warned && Date.now() - r.since >= stallMs) {
      r.warned = true;
      log.warn("dispatcher_claim_refused", { run_id: id, seconds: Math.round((Date.now() - r.since) / 1000), active });
    }
  };
  const watchdog = setInterval(() => {
    if (!step || step.warned || Date.now() - step.since < stallMs) return;
    step.warned = true;
    log.warn("dispatcher_stalled", { step: step.name, seconds: Math.round((Date.now() - step.since) / 1000), active });
  }, stallMs / 6);
  watchdog.unref();

  const loop = (async () => {
    let lastReclaim = 0;
    while (!stopped) {
      try {
        if (Date.now() - lastReclaim >= pollMs) {
          lastReclaim = Date.now();
          const reclaimed = await during("reclaimExpired", () => store.reclaimExpired());
          if (reclaimed.length) log.warn("runs_reclaimed", { run_ids: reclaimed });
        }
        const passedOver: string[] = [];
        // A pass with no free slot offers no run.
        const offers = !stopped && active < concurrency;
        while (!stopped && active < concurrency && passedOver.length < MAX_PASSED_OVER) {
          const id = await during("nextQueued", () => store.nextQueued(passedOver));
          if (!id) break;
          const run = await during("claim", () => store.claim(id));
          if (!run) {
            notClaimed(id);
            passedOver.push(id);
            continue;
          }
          active++;
          void executor
            .execute(run)
            .catch((err) => log.error("run_execution_crashed", { run_id: run.id, error: (err as Error).stack ?? String(err) }))
            .finally(() => {
              active--;
              poke();
            });
        }
        // A refusal counts from the first of an unbroken series of passes that refused the run; a
        // pass that offered nothing neither breaks the series nor extends it.
        if (offers) for (const id of refused.keys()) if (!passedOver.includes(id)) refused.delete(id);
      } catch (err) {
        log.error("dispatcher_error", { error: (err as Error).message });
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, pollMs);
      });
    }
  })();

  return {
    get active() {
      return active;
    },
    /** Stops claiming runs (the ones running go on; the worker drains them). */
    async stop() {
      stopped = true;
      poke();
      await loop;
      clearInterval(watchdog);
    },
  };
}
