/**
 * The Postgres output writer (COPY on a server, unnest on a server and on PGlite) against the one
 * contract every writer passes (test/support/output-contract.ts; the Iceberg writer runs it too in
 * trino-output-store.test.ts), the read contract for non-finite values (test/support/output-read-contract.ts),
 * and a COPY that the database rejects mid-stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { transactions } from "../../src/adapters/postgres";
import type { OutputBatch } from "../../src/engine/types";
import { spellDouble } from "../../src/outputs/finite";
import { createPgOutputWriter, dropOrphanStaging } from "../../src/outputs/pg-store";
import { type OutputBatches, type OutputWriter, type RunOutputMeta, writeRun } from "../../src/outputs/store";
import { buildApp, createTestDb, type Store, type TestDb } from "../support/app";
import { syntheticBatches } from "../support/output-batches";
import { type ContractHarness, contractBatch, describeOutputWriterContract, type StoredRow } from "../support/output-contract";
import { describeNonFiniteReadContract, type RawRow, type ReadContractHarness } from "../support/output-read-contract";
import { stagingTables } from "../support/outputs";

const cases: { name: string; store: Store; copy: boolean; sortRows?: number }[] = [
  { name: "postgres, COPY", store: "postgres", copy: true },
  // A run larger than the writer may hold: through the staging table that Postgres sorts.
  { name: "postgres, COPY through staging", store: "postgres", copy: true, sortRows: 100 },
  { name: "postgres, unnest", store: "postgres", copy: false },
  { name: "pglite, unnest", store: "pglite", copy: false },
];

async function openStore(c: (typeof cases)[number]): Promise<ContractHarness> {
  const db = await createTestDb(c.store);
  const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', 'writer contract') returning id::text as id`;
  const scenarioId = s!.id as string;
  return {
    writer: createPgOutputWriter(db.sql, { copy: c.copy, ...(c.sortRows ? { sortRows: c.sortRows } : {}) }),
    transaction: transactions(db.sql),
    newRun: async (): Promise<RunOutputMeta> => {
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
        values (${scenarioId}, 't-out', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
      return { tenantId: "t-out", scenarioId, runId: r!.id, asofDate: "2026-01-02", versionHash: "vh\t1", computedTs: "2026-01-02T03:04:05.678Z" };
    },
    read: async (runId: string): Promise<StoredRow[]> => {
      const rows = await db.sql<StoredRow[]>`
        select curve_key, tenor_type, to_char(contract_month, 'YYYY-MM-DD') as contract_month, tenor_label, metric, value, band_lower, band_upper, attribution,
               tenant_id, version_hash, asof_date::text as asof_date, to_char(computed_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') as computed_ts
        from scenario_output where run_id = ${runId}`;
      return rows.map((r) => ({ ...r }));
    },
    close: () => db.drop(),
  };
}

for (const c of cases) describeOutputWriterContract(c.name, () => openStore(c));

/** jsonb has no NaN/Infinity: the only way Postgres holds a non-finite attribution entry is as its string. */
const jsonbAttribution = (a: RawRow["attribution"]) => (a === null ? null : JSON.stringify(Object.fromEntries(Object.entries(a).map(([k, v]) => [k, spellDouble(v)]))));
const float8 = (v: number | null) => (v === null ? null : String(v)); // "NaN", "Infinity", "-Infinity" are float8 input

/** The read contract on a Postgres store: the app's default reader, rows inserted with SQL. */
async function openReadStore(store: Store): Promise<ReadContractHarness> {
  const db = await createTestDb(store);
  const tenantId = "t-read";
  return {
    app: await buildApp(db),
    tenantId,
    seed: async (rows) => {
      const [s] = await db.sql`insert into scenario (tenant_id, name) values (${tenantId}, 'non-finite reads') returning id::text as id`;
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key, finished_at)
        values (${s!.id}, ${tenantId}, 'SUCCEEDED', ${crypto.randomUUID()}, 'k', now()) returning id::text as id`;
      for (const row of rows) {
        await db.sql`insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric,
                                                  value, band_lower, band_upper, attribution, version_hash, computed_ts)
          values (${tenantId}, ${s!.id}, ${r!.id}, '2026-01-02', ${row.curve_key}, 'MONTHLY', '2026-02-01', '2026-02', ${row.metric},
                  ${float8(row.value)}::float8, ${float8(row.band_lower)}::float8, ${float8(row.band_upper)}::float8, ${jsonbAttribution(row.attribution)}::text::jsonb, 'vh', now())`;
      }
      return { scenarioId: s!.id as string, runId: r!.id as string };
    },
    close: () => db.drop(),
  };
}

for (const store of ["postgres", "pglite"] as const) describeNonFiniteReadContract(store, () => openReadStore(store));

/** A scenario named `name` with one RUNNING run, as the writer's meta for that run. */
async function runningRun(db: TestDb, name: string): Promise<RunOutputMeta> {
  const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', ${name}) returning id::text as id`;
  const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
    values (${s!.id}, 't-out', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
  return { tenantId: "t-out", scenarioId: s!.id, runId: r!.id, asofDate: "2026-01-02", versionHash: "v", computedTs: "2026-01-02T00:00:00Z" };
}

/** The run's rows in scenario_output, as `{ n }`. */
const countRows = async (db: TestDb, runId: string) => (await db.sql`select count(*)::int as n from scenario_output where run_id = ${runId}`)[0];

describe("output writer: a database error during COPY", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  for (const rows of [10, 40_000]) {
    test(`is raised, not waited on forever (${rows} rows: error ${rows < 1000 ? "after" : "before"} the last write)`, async () => {
      const meta = await runningRun(db, `copy error ${rows}`);
      await db.sql.unsafe(`
        create or replace function reject_rows() returns trigger language plpgsql as $$ begin raise exception 'disk full (injected)'; end $$;
        create or replace trigger reject_rows before insert on scenario_output for each row execute function reject_rows();`);
      try {
        const writer = createPgOutputWriter(db.sql, { copy: true });
        await expect(writeRun(writer, transactions(db.sql), meta, [contractBatch(rows)])).rejects.toThrow("disk full (injected)");
        // The connection is usable afterwards.
        expect((await db.sql`select 1 as one`)[0]).toEqual({ one: 1 });
      } finally {
        await db.sql.unsafe("drop trigger reject_rows on scenario_output; drop function reject_rows();");
      }
    });
  }
});

/**
 * Rows lie in the heap in the order an export reads them (src/outputs/export-order.ts), so the
 * export's index scan reads the heap front to back: measured on 2,000,000 rows, the ordered COPY
 * of a run took 2.8 s laid out this way and 6.0–7.4 s in the engine's order (raw dump 2.4–3.0 s).
 */
describe("output writer: a run's rows in the heap", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  const paths = [
    { path: "held and sorted by the writer", sortRows: undefined },
    { path: "streamed through staging, sorted by Postgres", sortRows: 3_000 },
  ];
  for (const { path, sortRows } of paths)
    test(`COPY writes them in export order (metric, curve, tenor type, month), whatever order the engine made them in (${path})`, async () => {
      const meta = await runningRun(db, `heap order, ${path}`);
      const batches = syntheticBatches(12_000, 5_000);
      await writeRun(createPgOutputWriter(db.sql, { copy: true, ...(sortRows ? { sortRows } : {}) }), transactions(db.sql), meta, streamed(batches));
      // Keys compare as the database orders them (C collation; months as ISO dates).
      const inHeap = (
        await db.sql<{ k: string }[]>`select concat_ws('|', metric, curve_key, tenor_type, contract_month) as k from scenario_output where run_id = ${meta.runId} order by ctid`
      ).map((x) => x.k);
      expect(inHeap.length).toBe(12_000);
      // Where the key goes down from one row to the next in the heap. COPY may put a row into room left
      // on an earlier page (one row in 12,000 here), so not none; written as the engine made them, thousands.
      const descents = (keys: string[]) => keys.filter((k, i) => i > 0 && k < (keys[i - 1] as string)).length;
      const made = batches.flatMap((b) =>
        Array.from({ length: b.length }, (_, i) => {
          const cm = b.contractMonth[i] as number;
          return [b.metric[i], b.curveKey[i], b.tenorType[i], `${Math.floor(cm / 100)}-${String(cm % 100).padStart(2, "0")}-01`].join("|");
        }),
      );
      expect([...made].sort()).toEqual([...inHeap].sort());
      expect(descents(made)).toBeGreaterThan(2_000);
      expect(descents(inHeap)).toBeLessThanOrEqual(12);
    });
});

/**
 * The engine knows a run's row total before its first batch, and the worker passes it on
 * (RunOutputMeta.rows): a run past the sort budget then goes to staging from its first batch.
 * Without it the writer holds batches until they pass the budget before it knows, and its COPY
 * waits for them (docs/runs.md, "Memory").
 */
describe("output writer: a run whose row total is known before its first batch", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** `batches` one at a time, pushing onto `seen` how many staging tables the run had when each was asked for. */
  async function* watched(runId: string, batches: OutputBatch[], seen: number[]): AsyncGenerator<OutputBatch> {
    for (const b of batches) {
      seen.push((await stagingTables(db.sql, runId)).length);
      yield b;
    }
  }

  for (const known of [true, false])
    test(`past the budget, ${known ? "known: staged from the first batch" : "not known: the first batches held until past the budget (the negative case)"}; every row written`, async () => {
      const meta = await runningRun(db, `row total known: ${known}`);
      const seen: number[] = [];
      const writer = createPgOutputWriter(db.sql, { copy: true, sortRows: 3_000 });
      const batches = watched(meta.runId, syntheticBatches(12_000, 2_000), seen);
      expect(await writeRun(writer, transactions(db.sql), known ? { ...meta, rows: 12_000 } : meta, batches)).toBe(12_000);
      expect(await countRows(db, meta.runId)).toEqual({ n: 12_000 });
      // Not known: 2,000 then 4,000 rows held (past 3,000) before the table is made.
      expect(seen).toEqual(known ? [1, 1, 1, 1, 1, 1] : [0, 0, 1, 1, 1, 1]);
      expect(await stagingTables(db.sql, meta.runId)).toEqual([]);
    });

  test("a total within the budget is held and sorted as before: no staging table at any batch", async () => {
    const meta = await runningRun(db, "row total within the budget");
    const seen: number[] = [];
    const writer = createPgOutputWriter(db.sql, { copy: true, sortRows: 3_000 });
    expect(await writeRun(writer, transactions(db.sql), { ...meta, rows: 3_000 }, watched(meta.runId, syntheticBatches(3_000, 1_000), seen))).toBe(3_000);
    expect(seen).toEqual([0, 0, 0]);
  });
});

/** Batches as the worker's pool hands them over: one at a time, asynchronously. */
async function* streamed<T>(items: T[], failAfter = Number.POSITIVE_INFINITY): AsyncGenerator<T> {
  let n = 0;
  for (const item of items) {
    await Bun.sleep(0);
    if (n++ === failAfter) throw new Error("engine failed (injected)");
    yield item;
  }
}

describe("output writer: a write that fails, held and through staging", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  for (const [path, sortRows] of [
    ["held", 1_000_000],
    ["staging", 3_000],
  ] as const) {
    test(`the batches fail mid-stream (the engine failed): the error is raised, no row of the run stays, and an earlier write's rows are kept (${path})`, async () => {
      const meta = await runningRun(db, `fails mid-stream ${path}`);
      const writer = createPgOutputWriter(db.sql, { copy: true, sortRows });
      const write = (batches: OutputBatches, checks?: () => Promise<void>) => writeRun(writer, transactions(db.sql), meta, batches, checks);
      await write([contractBatch(7)]);
      let committed = false;
      const failing = write(streamed(syntheticBatches(12_000, 2_000), 4), async () => {
        committed = true;
      });
      await expect(failing).rejects.toThrow("engine failed (injected)");
      expect(committed).toBe(false);
      expect(await countRows(db, meta.runId)).toEqual({ n: 7 });
      expect(await stagingTables(db.sql)).toEqual([]);
      // The connection is usable afterwards, and the same run writes whole.
      expect(await write(streamed(syntheticBatches(12_000, 2_000)))).toBe(12_000);
      expect(await countRows(db, meta.runId)).toEqual({ n: 12_000 });
    });

    test(`run metadata binary COPY cannot carry is refused before a COPY opens: nothing written, and the pool's connections serve the next write (${path})`, async () => {
      const meta = await runningRun(db, `bad meta ${path}`);
      const writer = createPgOutputWriter(db.sql, { copy: true, sortRows });
      const write = (m: RunOutputMeta) => writeRun(writer, transactions(db.sql), m, streamed(syntheticBatches(6_000, 2_000)));
      await expect(write({ ...meta, asofDate: "02/01/2026" })).rejects.toThrow('not a date: "02/01/2026"');
      expect(await countRows(db, meta.runId)).toEqual({ n: 0 });
      expect(await stagingTables(db.sql)).toEqual([]);
      expect(await write(meta)).toBe(6_000);
      expect(await countRows(db, meta.runId)).toEqual({ n: 6_000 });
    });
  }
});

describe("output writer: a large run stages outside the worker's transaction", () => {
  let db: TestDb;
  let writer: OutputWriter;
  beforeAll(async () => {
    db = await createTestDb("postgres");
    writer = createPgOutputWriter(db.sql, { copy: true, sortRows: 3_000 });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("while it stages, the run's earlier rows are not locked and no staged row is visible", async () => {
    const meta = await runningRun(db, "stages unlocked");
    await writeRun(writer, transactions(db.sql), meta, [contractBatch(7)]);
    const release = Promise.withResolvers<void>();
    const reached = Promise.withResolvers<void>();
    async function* paused(): AsyncGenerator<OutputBatch> {
      const batches = syntheticBatches(12_000, 2_000);
      for (const [i, b] of batches.entries()) {
        if (i === 3) {
          reached.resolve();
          await release.promise;
        }
        yield b;
      }
    }
    const staging = writer.stage(meta, paused());
    await reached.promise;
    // Halfway through: another transaction can lock the run's rows at once (a writer that had
    // deleted them in its own open transaction would hold them), and sees the 7 earlier rows only.
    const locked = await db.sql.begin(async (tx) => (await tx`select 1 from scenario_output where run_id = ${meta.runId} for update nowait`).length);
    expect(locked).toBe(7);
    expect(await stagingTables(db.sql)).toHaveLength(1);
    release.resolve();
    const staged = await staging;
    expect(staged.rows).toBe(12_000);
    expect(await countRows(db, meta.runId)).toEqual({ n: 7 });
    await transactions(db.sql)(async (tx) => {
      await staged.publish(tx);
      await staged.seal(tx);
    });
    expect(await countRows(db, meta.runId)).toEqual({ n: 12_000 });
    expect(await stagingTables(db.sql)).toEqual([]);
  });

  test("dropOrphanStaging drops what a crashed worker staged once its run is no longer RUNNING, and nothing of a RUNNING run", async () => {
    const crashed = await runningRun(db, "crashed while staged");
    const live = await runningRun(db, "still running");
    // Staged and never published nor discarded: as a worker killed before its transaction.
    await writer.stage(crashed, syntheticBatches(6_000, 2_000));
    await writer.stage(live, syntheticBatches(6_000, 2_000));
    expect(await stagingTables(db.sql)).toHaveLength(2);
    expect(await dropOrphanStaging(transactions(db.sql))).toBe(0);
    await db.sql`update scenario_run set state = 'FAILED' where id = ${crashed.runId}`;
    expect(await dropOrphanStaging(transactions(db.sql))).toBe(1);
    const left = await stagingTables(db.sql);
    expect(left).toHaveLength(1);
    expect(left[0]).toContain(live.runId.replaceAll("-", ""));
  });
});
