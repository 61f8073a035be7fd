// The Iceberg writer's shared statement slots (src/outputs/trino-store.ts): `statementSlots` alone,
// then `inFlight` bounding the INSERTs of several writes at once, against a scripted Trino whose
// statements finish when the test says. The backfill copies two runs at once with `inFlight` set
// (src/outputs/backfill.ts); without it the same two writes hold four statements, which the
// counter below sees (the negative case).
import { describe, expect, test } from "bun:test";
import type { TrinoClient, TrinoResult } from "../../../src/adapters/trino";
import { TrinoError } from "../../../src/adapters/trino";
import type { InsertStatement } from "../../../src/outputs/trino-insert";
import { createIcebergOutputs, statementSlots } from "../../../src/outputs/trino-store";
import { createLogger } from "../../../src/platform/logger";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("statementSlots", () => {
  test("at most n holders; the next waiter gets a released slot, first come first served; a second release frees nothing", async () => {
    const slots = statementSlots(2);
    const a = await slots.take();
    const b = await slots.take();
    const order: string[] = [];
    const waiter = (name: string) =>
      slots.take().then((release) => {
        order.push(name);
        return release;
      });
    const c = waiter("c");
    const d = waiter("d");
    await tick();
    expect(order).toEqual([]);
    a();
    a(); // again: must not let d in as well
    await tick();
    expect(order).toEqual(["c"]);
    b();
    await tick();
    expect(order).toEqual(["c", "d"]);
    (await c)();
    (await d)();
    // all four released: two can be taken at once again, not three
    await slots.take();
    await slots.take();
    let third = false;
    void slots.take().then(() => (third = true));
    await tick();
    expect(third).toBe(false);
  });
});

/** A Trino whose INSERTs stay in flight until `finishAll`; counts them, and fails the ones whose text says so. */
function scriptedTrino() {
  const state = { inFlight: 0, peak: 0, executed: 0 };
  const pending: (() => void)[] = [];
  const trino: TrinoClient = {
    // biome-ignore lint/correctness/useYield: not used by run()
    async *query() {
      throw new Error("not scripted");
    },
    async execute(sql: string): Promise<TrinoResult> {
      state.inFlight++;
      state.peak = Math.max(state.peak, state.inFlight);
      await new Promise<void>((resolve) => pending.push(resolve));
      state.inFlight--;
      state.executed++;
      if (sql.includes("FAIL")) throw new TrinoError("boom", "GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR");
      return { queryId: "q", columns: [], rows: [], updateCount: 1 };
    },
  };
  /** Lets every statement in flight finish, until nothing is left. */
  const finishAll = async () => {
    await tick();
    for (let i = 0; i < 1_000 && (pending.length || state.inFlight); i++) {
      for (const resolve of pending.splice(0)) resolve();
      await tick();
    }
  };
  return { trino, state, finishAll };
}

const meta = (runId: string) => ({ tenantId: "t", scenarioId: "s", runId, asofDate: "2026-01-02", versionHash: "vh", computedTs: "2026-01-02T00:00:00.000000Z" });
const statements = (runId: string, n: number, sql = "INSERT"): Iterator<InsertStatement> =>
  Array.from({ length: n }, (_, i) => ({ sql: `${sql} ${runId} ${i}`, rows: 1, tag: `${runId}:0.${i}` })).values();

describe("createIcebergOutputs: inFlight", () => {
  const log = createLogger("silent");

  test("two writes of 2 lanes each hold 2 statements at most with inFlight 2, and every statement runs", async () => {
    const { trino, state, finishAll } = scriptedTrino();
    const iceberg = createIcebergOutputs({ trino, log, concurrency: 2, inFlight: 2 });
    const writes = Promise.all([iceberg.run(statements("a", 5), meta("a")), iceberg.run(statements("b", 5), meta("b"))]);
    await tick();
    expect(state.inFlight).toBe(2);
    await finishAll();
    expect(await writes).toEqual([5, 5]);
    expect(state).toEqual({ inFlight: 0, peak: 2, executed: 10 });
  });

  test("without inFlight the same two writes hold 4 at once (what the counter catches)", async () => {
    const { trino, state, finishAll } = scriptedTrino();
    const iceberg = createIcebergOutputs({ trino, log, concurrency: 2 });
    const writes = Promise.all([iceberg.run(statements("a", 5), meta("a")), iceberg.run(statements("b", 5), meta("b"))]);
    await finishAll();
    await writes;
    expect(state.peak).toBe(4);
  });

  test("a failed statement gives its slot back: the other write still finishes, and the failed write sends no further statement", async () => {
    const { trino, state, finishAll } = scriptedTrino();
    const iceberg = createIcebergOutputs({ trino, log, concurrency: 2, inFlight: 1 });
    const failed = iceberg.run(statements("a", 3, "FAIL"), meta("a")).catch((err: Error) => err);
    const other = iceberg.run(statements("b", 3), meta("b"));
    await finishAll();
    expect(((await failed) as Error).message).toBe("boom");
    expect(await other).toBe(3);
    expect(state.peak).toBe(1);
    // the failed write's other lane, which waited for the slot meanwhile, sent nothing more
    expect(state.executed).toBe(4);
  });
});
