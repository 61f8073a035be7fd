/**
 * The engine's thread pool when a thread ends by itself: the job running on it fails (and can be
 * retried) instead of waiting forever while the executor's heartbeat keeps the run's lease alive,
 * and the slot gets a fresh thread for the next job.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ThreadExitedError, ThreadSilentError, WorkerPool } from "../../src/worker/pool";
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
