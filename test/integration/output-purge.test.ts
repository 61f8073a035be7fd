/**
 * Cheap deletes (issue 21, item 5), on a real Postgres and embedded PGlite: deleting a scenario or
 * a run queues the run in `output_purge` (the trigger of ddl/postgres/014) and leaves its rows to
 * the output purge, which deletes them in bounded batches; another scenario's rows are never
 * touched; a purge stopped half-way is finished by the next one; two purges share the queue.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetadata } from "../../src/metadata";
import { createOutputPurge } from "../../src/outputs/purge";
import { createLogger } from "../../src/platform/logger";
import { createTestDb, STORES, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { seedRun } from "../support/outputs";

const log = createLogger("silent");
const TENANT = "t-purge";

for (const store of STORES) {
  describe(`output purge (${store})`, () => {
    let db: TestDb;
    beforeAll(async () => {
      db = await createTestDb(store);
    }, 120_000);
    afterAll(async () => {
      await db?.drop();
    });

    const scenario = async (name: string) => ((await db.sql`insert into scenario (tenant_id, name) values (${TENANT}, ${name}) returning id::text as id`)[0] as { id: string }).id;
    const rowsOf = async (scenarioId: string) => (await db.sql`select count(*)::int as n from scenario_output where scenario_id = ${scenarioId}`)[0]?.n as number;
    const queued = async () => (await db.sql`select run_id::text from output_purge order by queued_at`).map((r) => r.run_id as string);
    const purge = (batchRows: number) => createOutputPurge({ transaction: createMetadata(db.sql).transaction, log, batchRows, pauseMs: 0, share: 1 });

    test("a scenario's DELETE queues its runs and leaves their rows; batches of at most batchRows remove them; the other scenario keeps its rows", async () => {
      const [doomed, kept] = [await scenario("doomed"), await scenario("kept")];
      const run = await seedRun(db.sql, { tenantId: TENANT, scenarioId: doomed, rows: 5_000 });
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: kept, rows: 1_000 });
      const [total, other] = [await rowsOf(doomed), await rowsOf(kept)];

      await db.sql`delete from scenario where id = ${doomed}`;
      // The DELETE removed the scenario and its run, not the rows: they wait in the queue.
      expect((await db.sql`select count(*)::int as n from scenario_run where scenario_id = ${doomed}`)[0]?.n).toBe(0);
      expect(await queued()).toEqual([run]);
      expect(await rowsOf(doomed)).toBe(total);

      const p = purge(2_000);
      const batches = [];
      for (let b = await p.batch(); b; b = await p.batch()) batches.push(b);
      expect(batches.map((b) => b.rows)).toEqual([2_000, 2_000, total - 4_000]);
      expect(batches.map((b) => b.done)).toEqual([false, false, true]);
      expect(await rowsOf(doomed)).toBe(0);
      expect(await queued()).toEqual([]);
      expect(await rowsOf(kept)).toBe(other);
    });

    test("a purge stopped after one batch leaves the run queued, with its cursor on the last key it deleted; the next purge finishes it", async () => {
      const s = await scenario("half");
      const run = await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 3_000 });
      await db.sql`delete from scenario_run where id = ${run}`;
      expect(await queued()).toEqual([run]);
      // Rows in key order before the batch: it deletes the first 1,000 and leaves its cursor on the last of them.
      const keys = await db.sql`select metric, curve_key, tenor_type, to_char(contract_month, 'YYYY-MM-DD') as contract_month
        from scenario_output where run_id = ${run} order by metric, curve_key, tenor_type, contract_month`;
      expect((await purge(1_000).batch())?.done).toBe(false);
      expect(await queued()).toEqual([run]);
      const [cursor] = await db.sql`select after_metric as metric, after_curve_key as curve_key, after_tenor_type as tenor_type,
        to_char(after_contract_month, 'YYYY-MM-DD') as contract_month from output_purge where run_id = ${run}`;
      expect(cursor).toEqual({ ...keys[999] });
      const rest = await db.sql`select metric, curve_key, tenor_type, to_char(contract_month, 'YYYY-MM-DD') as contract_month
        from scenario_output where run_id = ${run} order by metric, curve_key, tenor_type, contract_month`;
      expect(rest.map((r) => ({ ...r }))).toEqual(keys.slice(1_000).map((r) => ({ ...r })));
      const left = await rowsOf(s);
      expect(left).toBe(2_000);
      expect(await purge(1_000).drain()).toEqual({ rows: left, runs: 1 });
      expect(await rowsOf(s)).toBe(0);
      expect(await queued()).toEqual([]);
    });

    test("two purges at once share the queue: every row deleted once, no error", async () => {
      const s = await scenario("shared");
      const runs = [];
      for (let i = 0; i < 4; i++) runs.push(await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 1_500, offset: i * 10_000 }));
      const total = await rowsOf(s);
      await db.sql`delete from scenario where id = ${s}`;
      expect((await queued()).sort()).toEqual([...runs].sort());
      const [a, b] = await Promise.all([purge(500).drain(), purge(500).drain()]);
      expect(a.rows + b.rows).toBe(total);
      expect(a.runs + b.runs).toBe(4);
      expect(await rowsOf(s)).toBe(0);
      expect(await queued()).toEqual([]);
    });

    test("paced by its share of the time: after a 40 ms batch, 360 ms of pause (share 0.1); after a quick one, pauseMs", async () => {
      const s = await scenario("paced");
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 250 });
      await db.sql`delete from scenario where id = ${s}`;
      // A clock that each batch's transaction moves on by that batch's time; pauses recorded, not slept.
      const batchMs = [40, 40, 2];
      let clock = 0;
      let n = 0;
      const tx = createMetadata(db.sql).transaction;
      const pauses: number[] = [];
      const p = createOutputPurge({
        transaction: async (fn) => {
          const result = await tx(fn);
          clock += batchMs[n++] ?? 0;
          return result;
        },
        log,
        batchRows: 100,
        now: () => clock,
        sleep: async (ms) => pauses.push(ms),
      });
      expect(await p.drain()).toEqual({ rows: 250, runs: 1 });
      expect(pauses).toEqual([360, 360, 100]);
      expect(() => createOutputPurge({ transaction: tx, log, share: 0 })).toThrow("share must be in (0, 1]");
    });

    test("the background loop purges when kicked and stops cleanly", async () => {
      const s = await scenario("kicked");
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 500 });
      const p = createOutputPurge({ transaction: createMetadata(db.sql).transaction, log, idleMs: 60_000 });
      p.start();
      await Bun.sleep(50);
      await db.sql`delete from scenario where id = ${s}`;
      p.kick();
      for (let i = 0; i < 200 && ((await rowsOf(s)) > 0 || (await queued()).length > 0); i++) await Bun.sleep(50);
      expect(await rowsOf(s)).toBe(0);
      await p.stop();
    });

    test("a kick during a pass, after its last look at the queue, starts another pass instead of waiting idleMs", async () => {
      const s = await scenario("kicked late");
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 300 });
      const tx = createMetadata(db.sql).transaction;
      let calls = 0;
      let p: ReturnType<typeof createOutputPurge> | undefined;
      // The first pass: its batch finds the queue empty (call 1), then it drops orphan staging
      // tables (call 2); the scenario is deleted and the purge kicked in between.
      p = createOutputPurge({
        transaction: async (fn) => {
          if (++calls === 2) {
            await db.sql`delete from scenario where id = ${s}`;
            p?.kick();
          }
          return tx(fn);
        },
        log,
        idleMs: 600_000,
        pauseMs: 0,
        share: 1,
      });
      p.start();
      // Well under idleMs: without the second pass the rows would wait 10 minutes.
      await eventually(async () => (await rowsOf(s)) === 0 && (await queued()).length === 0, { what: "the kicked purge", timeoutMs: 30_000 });
      await p.stop();
    });

    test("not started (an app built for tests or tools), a kick still purges, in one background pass that stop() waits for", async () => {
      const s = await scenario("one pass");
      await seedRun(db.sql, { tenantId: TENANT, scenarioId: s, rows: 700 });
      await db.sql`delete from scenario where id = ${s}`;
      const p = createOutputPurge({ transaction: createMetadata(db.sql).transaction, log, pauseMs: 0, share: 1 });
      p.kick();
      await p.stop();
      expect(await rowsOf(s)).toBe(0);
      expect(await queued()).toEqual([]);
    });
  });
}
