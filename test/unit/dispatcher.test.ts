/**
 * The embedded dispatcher (src/worker/dispatcher.ts) with stand-ins for the run store, executor and
 * queue: a database call that does not return is logged as `dispatcher_stalled` with the step it is
 * stuck in, once; a loop whose calls return logs nothing of the kind. A run that no claim can lock
 * is passed over for the run behind it, and logged once as `dispatcher_claim_refused` when that
 * lasts (also while the worker is busy between refusals); refusals that are one-offs log nothing.
 */
import { expect, test } from "bun:test";
import type { Logger } from "../../src/platform/logger";
import type { LocalQueue } from "../../src/runs/queue";
import { startDispatcher } from "../../src/worker/dispatcher";
import type { Executor } from "../../src/worker/executor";
import type { RunStore } from "../../src/worker/run-store";
import { eventually } from "../support/eventually";

function harness(
  nextQueued: (except: readonly string[]) => Promise<string | undefined>,
  claim: (id: string) => Promise<unknown> = async () => undefined,
  /** How long each run the executor is given takes (its slot is taken meanwhile). */
  runMs = 0,
) {
  const executed: string[] = [];
  const warnings: { event: string; fields?: Record<string, unknown> }[] = [];
  const log: Logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (event, fields) => void warnings.push({ event, fields }) };
  // Each lookup waits for the event loop, as a database call does: a loop of stand-ins that resolve
  // at once would never let the test's timers run.
  const lookup = async (except: readonly string[]) => {
    await Bun.sleep(1);
    return nextQueued(except);
  };
  const store = { reclaimExpired: async () => [], nextQueued: lookup, claim } as unknown as RunStore;
  const queue = { onNotify: () => {}, onCancel: () => {} } as unknown as LocalQueue;
  const execute = async (run: { id: string }) => {
    executed.push(run.id);
    if (runMs) await Bun.sleep(runMs);
  };
  const executor = { execute, cancel: () => {} } as unknown as Executor;
  const dispatcher = startDispatcher({ store, executor, queue, concurrency: 1, pollMs: 10, log, stallMs: 60 });
  return { warnings, dispatcher, executed };
}

test("a lookup that never returns is logged once as dispatcher_stalled, naming the step", async () => {
  let calls = 0;
  const { warnings } = harness(() => {
    calls++;
    return new Promise(() => {});
  });
  await eventually(() => warnings.length > 0, { what: "the stall warning", timeoutMs: 10_000, intervalMs: 20 });
  expect(warnings.length).toBe(1);
  expect(warnings[0]).toMatchObject({ event: "dispatcher_stalled", fields: { step: "nextQueued", active: 0 } });
  expect(warnings[0]?.fields?.seconds).toBeGreaterThanOrEqual(0);
  await Bun.sleep(300); // still stuck: no second warning for the same call
  expect(warnings.length).toBe(1);
  expect(calls).toBe(1);
});

test("a loop whose calls return logs no stall (negative case)", async () => {
  let calls = 0;
  const { warnings, dispatcher } = harness(async () => {
    calls++;
    return undefined;
  });
  await eventually(() => calls > 20, { what: "many polls", timeoutMs: 10_000, intervalMs: 20 });
  await dispatcher.stop();
  expect(warnings).toEqual([]);
});

test("a run offered first that no claim can lock is logged once as dispatcher_claim_refused, naming it", async () => {
  let claims = 0;
  const { warnings, dispatcher } = harness(
    async (except) => (except.includes("run-locked") ? undefined : "run-locked"),
    async () => {
      claims++;
      return undefined; // its row is locked by another transaction: skipped
    },
  );
  await eventually(() => warnings.length > 0, { what: "the refused-claim warning", timeoutMs: 10_000, intervalMs: 20 });
  const before = claims;
  await eventually(() => claims > before + 10, { what: "more passes", timeoutMs: 10_000, intervalMs: 20 });
  await dispatcher.stop();
  expect(warnings.length).toBe(1);
  expect(warnings[0]).toMatchObject({ event: "dispatcher_claim_refused", fields: { run_id: "run-locked", active: 0 } });
});

test("a busy worker still logs the run refused whenever a slot frees: its passes with no free slot do not restart the count", async () => {
  // One slot: each pass that finds it free offers the locked run (refused), then claims a run that
  // takes 40 ms. The passes in between (every 10 ms) find no slot and offer nothing; counting them
  // as passes that did not refuse the run, the count restarted every 40 ms and never reached 60.
  let n = 0;
  const { warnings, dispatcher, executed } = harness(
    async (except) => (except.includes("run-locked") ? `run-${n++}` : "run-locked"),
    async (id) => (id === "run-locked" ? undefined : { id }),
    40,
  );
  await eventually(() => warnings.length > 0 && executed.length >= 3, { what: "the refused-claim warning while runs go on", timeoutMs: 10_000, intervalMs: 20 });
  await dispatcher.stop();
  expect(warnings.length).toBe(1);
  expect(warnings[0]).toMatchObject({ event: "dispatcher_claim_refused", fields: { run_id: "run-locked" } });
});

test("runs that are claimed, or each refused once (taken by another worker), log nothing (negative case)", async () => {
  let n = 0;
  const { warnings, dispatcher } = harness(
    async () => `run-${n++}`,
    async (id) => (Number(id.slice(4)) % 2 === 0 ? undefined : { id }),
  );
  await eventually(() => n > 40, { what: "many passes", timeoutMs: 10_000, intervalMs: 20 });
  await dispatcher.stop();
  expect(warnings).toEqual([]);
});

test("a run no claim can lock is passed over: the run behind it is claimed in the same pass", async () => {
  const queued = ["run-locked", "run-free"];
  const { dispatcher, executed } = harness(
    async (except) => queued.find((id) => !except.includes(id)),
    async (id) => {
      if (id === "run-locked") return undefined;
      queued.splice(queued.indexOf(id), 1); // claimed: no longer QUEUED
      return { id };
    },
  );
  await eventually(() => executed.length > 0, { what: "a claimed run", timeoutMs: 10_000, intervalMs: 20 });
  await dispatcher.stop();
  expect(executed).toEqual(["run-free"]);
});
