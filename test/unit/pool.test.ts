/**
 * The engine's thread pool when a thread ends by itself: the job running on it fails (and can be
 * retried) instead of waiting forever while the executor's heartbeat keeps the run's lease alive,
 * and the slot gets a fresh thread for the next job.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BaselineCurve } from "../../src/engine/types";
import { IN_FLIGHT } from "../../src/worker/messages";
import { AbortedError, type Job, ThreadExitedError, ThreadSilentError, WorkerPool } from "../../src/worker/pool";
import { eventually } from "../support/eventually";
import { WORKED_EXAMPLE } from "./engine/helpers";

/** The thread of the pool's only slot. Ending it from outside stands in for a thread the runtime ended. */
const threadOf = (pool: WorkerPool) => (pool as unknown as { slots: { worker: Worker }[] }).slots[0]?.worker as Worker;
const BIG = { ...WORKED_EXAMPLE, parameters: { ...WORKED_EXAMPLE.parameters, mc_paths: 2000 } };

describe("a thread that ends while it runs a job", () => {
  const pool = new WorkerPool(1);
  afterAll(() => pool.close());

  test("the job fails with ThreadExitedError, and the next job runs on a new thread", async () => {
    const first = pool.run(BIG);
    const thread = threadOf(pool);
    thread.terminate();
    expect(await first.result.catch((e: unknown) => e)).toBeInstanceOf(ThreadExitedError);
    expect(threadOf(pool)).not.toBe(thread);
    const next = await pool.run(WORKED_EXAMPLE).result;
    expect(next.rows).toBeGreaterThan(0);
  });

  test("a thread that ends while idle is replaced too, and the pool still runs jobs", async () => {
    const thread = threadOf(pool);
    thread.terminate();
    await eventually(() => threadOf(pool) !== thread, { what: "the slot to get a new thread" });
    const done = await pool.run(WORKED_EXAMPLE).result;
    expect(done.rows).toBeGreaterThan(0);
    expect(threadOf(pool)).not.toBe(thread);
  });

  test("an aborted job is rejected as aborted, not as a lost thread", async () => {
    const job = pool.run(BIG);
    job.abort("cancelled");
    const err = (await job.result.catch((e: unknown) => e)) as Error;
    expect(err.name).toBe("AbortError");
    expect((await pool.run(WORKED_EXAMPLE).result).rows).toBeGreaterThan(0);
  });
});

describe("a thread that falls silent while it runs a job", () => {
  const pool = new WorkerPool(1, { silenceMs: 300 });
  afterAll(() => pool.close());

  test("the job fails with ThreadSilentError after the silence limit, and the next job runs on a new thread", async () => {
    const job = pool.run(BIG);
    const thread = threadOf(pool);
    // Its messages are swallowed: to the pool it says nothing, as a hung thread would.
    thread.onmessage = () => {};
    expect(await job.result.catch((e: unknown) => e)).toBeInstanceOf(ThreadSilentError);
    expect(threadOf(pool)).not.toBe(thread);
    expect((await pool.run(WORKED_EXAMPLE).result).rows).toBeGreaterThan(0);
  });
});

/** PJM_W_ON copied `n` times over 240 months: 2,720 rows a curve, batches of 50,000 rows. */
function manyCurves(n: number) {
  const [power, gas] = WORKED_EXAMPLE.curves as [BaselineCurve, BaselineCurve];
  const months = Int32Array.from({ length: 240 }, (_, i) => (2027 + Math.floor(i / 12)) * 100 + (i % 12) + 1);
  const curve = (c: BaselineCurve, key: string, level: number) => ({ ...c, curveKey: key, months, mid: new Float64Array(240).fill(level) });
  return {
    ...WORKED_EXAMPLE,
    parameters: { ...WORKED_EXAMPLE.parameters, horizon_months: 240 },
    curves: [curve(gas, "HH_GAS", 4), ...Array.from({ length: n }, (_, i) => curve(power, `PJM_W_ON_${i}`, 40 + i / 10))],
  };
}
const untaken = (pool: WorkerPool) => (pool as unknown as { slots: { untaken: number }[] }).slots[0]?.untaken;

async function readAll(job: Job): Promise<{ batches: number; rows: number }> {
  let batches = 0;
  let rows = 0;
  for await (const b of job.batches) {
    batches++;
    rows += b.length;
  }
  return { batches, rows };
}

describe("a job's batches stream to one reader", () => {
  const pool = new WorkerPool(1, { silenceMs: 1_500 });
  afterAll(() => pool.close());
  // A new thread loads the engine before it answers, which can take longer than 1.5 s on a loaded
  // machine: a first job that succeeds shows the thread is ready (a silent one was replaced: let its successor load).
  beforeAll(async () => {
    await eventually(
      async () => {
        if (
          await pool.run(WORKED_EXAMPLE).result.then(
            () => true,
            () => false,
          )
        )
          return true;
        await Bun.sleep(1_000);
        return false;
      },
      { what: "a warm engine thread", timeoutMs: 60_000 },
    );
  }, 70_000);
  const BIG_RUN = manyCurves(120); // 121 curves, 329,120 rows, 7 batches

  test(`a reader that takes nothing holds the thread after ${IN_FLIGHT} batches, longer than the silence limit; reading on gives every row`, async () => {
    const job = pool.run(BIG_RUN);
    let finished = false;
    void job.result.then(() => (finished = true));
    await eventually(() => untaken(pool) === IN_FLIGHT, { what: `${IN_FLIGHT} batches posted` });
    // Over twice the silence limit: a thread waiting for the reader is not a silent one.
    await Bun.sleep(3_500);
    expect(untaken(pool)).toBe(IN_FLIGHT);
    expect(finished).toBe(false);
    const read = await readAll(job);
    const summary = await job.result;
    expect(read.rows).toBe(summary.rows);
    expect(summary.rows).toBe(121 * 2_720);
    // The bound means something: the run has more batches than may wait.
    expect(read.batches).toBeGreaterThan(IN_FLIGHT + 1);
    // Known before the first batch: the hash, and the row total the run then has.
    expect(await job.started).toEqual({ versionHash: summary.versionHash, rows: summary.rows });
  }, 60_000);

  test("aborted while its reader waits: the reader gets AbortError, and the next job runs", async () => {
    const job = pool.run(BIG_RUN);
    const iterator = job.batches[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    job.abort("cancelled");
    const err = (await iterator.next().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(AbortedError);
    expect((await job.result.catch((e: unknown) => e)) as Error).toBeInstanceOf(AbortedError);
    const next = pool.run(WORKED_EXAMPLE);
    expect((await readAll(next)).rows).toBe((await next.result).rows);
  }, 60_000);

  test("an engine error reaches the reader as the job's error", async () => {
    const job = pool.run({ ...WORKED_EXAMPLE, asofDate: "0000-00-00" });
    const err = (await readAll(job).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe("EngineValidationError");
    expect(((await job.started.catch((e: unknown) => e)) as Error).name).toBe("EngineValidationError");
  });
});
