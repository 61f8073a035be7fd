/**
 * An attempt whose input read never answers (a hung database connection) fails after the input
 * timeout and is retried as INPUT_UNAVAILABLE, instead of holding the run while its heartbeat keeps
 * the lease alive. The store and pool are fakes: only the executor's own timing is under test.
 */
import { describe, expect, test } from "bun:test";
import type { OutputWriter } from "../../src/outputs/store";
import { createLogger } from "../../src/platform/logger";
import type { RunRecord } from "../../src/runs/model";
import { createExecutor } from "../../src/worker/executor";
import type { WorkerPool } from "../../src/worker/pool";
import type { RunStore } from "../../src/worker/run-store";

const run = { id: "r1", scenario_id: "s1", tenant_id: "t", attempts: 1, max_retries: 3, timeout_minutes: 60 } as unknown as RunRecord;

function harness(engineInput: () => Promise<unknown>) {
  const retries: { code: unknown }[] = [];
  const store = {
    engineInput,
    heartbeat: async () => ({ keep: true, cancelled: false }),
    scheduleRetry: async (_id: string, _delay: number, error: { code: unknown }) => {
      retries.push(error);
      return { state: "QUEUED" };
    },
    finish: async () => true,
  } as unknown as RunStore;
  // A pool whose jobs never start (no version hash and row total, no batch) unless aborted.
  const pool = {
    run: () => {
      let abort: (reason: string) => void = () => {};
      const result = new Promise<never>((_, reject) => {
        abort = (reason) => reject(new Error(reason));
      });
      result.catch(() => {});
      return { started: result, batches: [], result, abort: (reason: string) => abort(reason) };
    },
  } as unknown as WorkerPool;
  const executor = createExecutor({
    store,
    pool,
    writer: {} as OutputWriter,
    log: createLogger("silent"),
    options: { workerId: "w1", leaseMs: 30_000, retryBaseMs: 10, inputTimeoutMs: 200 },
  });
  return { executor, retries };
}

describe("an attempt whose inputs never arrive", () => {
  test("fails after the input timeout and is retried as INPUT_UNAVAILABLE", async () => {
    const { executor, retries } = harness(() => new Promise(() => {}));
    expect(await executor.execute(run)).toBe("RETRY");
    expect(retries).toEqual([expect.objectContaining({ code: "INPUT_UNAVAILABLE" })]);
    expect(executor.active).toBe(0);
  });

  test("inputs that arrive in time reach the engine (here a pool that never answers, so the attempt is still running)", async () => {
    const { executor, retries } = harness(async () => ({ asofDate: "2026-01-02" }));
    const attempt = executor.execute(run);
    expect(await Promise.race([attempt, Bun.sleep(600).then(() => "still running")])).toBe("still running");
    expect(retries).toEqual([]);
    executor.handBackAll();
    expect(await attempt).toBe("RETRY");
    expect(retries).toEqual([expect.objectContaining({ code: "HANDED_BACK" })]);
  });
});
