/**
 * The output store's write side, one contract for every writer: rows arrive exactly as given
 * (awkward text included), a second write replaces the first, a failing commit leaves nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { OutputBatch } from "../../src/engine/types";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { OutputWriter, RunOutputMeta } from "../../src/outputs/store";
import { createTestDb, type Store, type TestDb } from "../support/app";

const AWKWARD = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rret", "ünïcødé ⚡", 'quote"s', "\\N"];

function batch(n: number): OutputBatch {
  const b: OutputBatch = {
    length: n,
    curveKey: [],
    tenorType: [],
    contractMonth: new Int32Array(n),
    tenorLabel: [],
    metric: [],
    value: new Float64Array(n),
    bandLower: new Float64Array(n),
    bandUpper: new Float64Array(n),
    attribution: [],
  };
  for (let i = 0; i < n; i++) {
    b.curveKey.push(`${AWKWARD[i % AWKWARD.length]}-${i}`);
    b.tenorType.push("MONTHLY");
    b.contractMonth[i] = 202601 + (i % 12);
    b.tenorLabel.push(`2026-${String((i % 12) + 1).padStart(2, "0")}`);
    b.metric.push(i % 2 ? "mid" : "NPV");
    b.value[i] = i === 1 ? 1e-300 : i === 2 ? -123456.789012345 : i / 7;
    b.bandLower[i] = b.value[i]! - 1;
    b.bandUpper[i] = b.value[i]! + 1;
    b.attribution.push(i % 3 === 0 ? null : JSON.stringify({ [`policy:${AWKWARD[i % AWKWARD.length]}`]: i / 3 }));
  }
  return b;
}

const cases: { name: string; store: Store; writer: (sql: TestDb["sql"]) => OutputWriter }[] = [
  { name: "postgres, COPY", store: "postgres", writer: (sql) => createPgOutputWriter(sql, { copy: true }) },
  { name: "postgres, unnest", store: "postgres", writer: (sql) => createPgOutputWriter(sql, { copy: false }) },
  { name: "pglite, unnest", store: "pglite", writer: (sql) => createPgOutputWriter(sql, { copy: false }) },
];

for (const c of cases) {
  describe(`output writer contract: ${c.name}`, () => {
    let db: TestDb;
    let writer: OutputWriter;
    let scenarioId: string;
    const newRun = async () => {
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
        values (${scenarioId}, 't-out', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
      return r!.id as string;
    };
    const meta = (runId: string): RunOutputMeta => ({ tenantId: "t-out", scenarioId, runId, asofDate: "2026-01-02", versionHash: "vh\t1", computedTs: "2026-01-02T03:04:05.678Z" });
    const read = (runId: string) => db.sql`
      select curve_key, tenor_type, to_char(contract_month, 'YYYY-MM-DD') as cm, tenor_label, metric, value, band_lower, band_upper, attribution::text as attribution,
             tenant_id, version_hash, asof_date::text as asof, to_char(computed_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') as computed
      from scenario_output where run_id = ${runId} order by curve_key, metric`;

    beforeAll(async () => {
      db = await createTestDb(c.store);
      writer = c.writer(db.sql);
      const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', 'outputs') returning id::text as id`;
      scenarioId = s!.id;
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("every row arrives exactly as given, awkward text and full float precision included", async () => {
      const runId = await newRun();
      const b = batch(500);
      const written = await writer.replaceRun(meta(runId), [b], async () => {});
      expect(written).toBe(500);
      const rows = await read(runId);
      expect(rows).toHaveLength(500);
      const expected = Array.from({ length: 500 }, (_, i) => ({
        curve_key: b.curveKey[i],
        tenor_type: "MONTHLY",
        cm: `2026-${String((i % 12) + 1).padStart(2, "0")}-01`,
        tenor_label: b.tenorLabel[i],
        metric: b.metric[i],
        value: b.value[i],
        band_lower: b.bandLower[i],
        band_upper: b.bandUpper[i],
        attribution: b.attribution[i] === null ? null : JSON.stringify(JSON.parse(b.attribution[i] as string)).replace(/":/g, '": '),
        tenant_id: "t-out",
        version_hash: "vh\t1",
        asof: "2026-01-02",
        computed: "2026-01-02T03:04:05.678",
      })).sort((x, y) => (x.curve_key! < y.curve_key! ? -1 : x.curve_key! > y.curve_key! ? 1 : x.metric! < y.metric! ? -1 : 1));
      expect(rows.map((r) => ({ ...r }))).toEqual(expected);
    });

    test("a second write of the same run replaces the first, never adds to it", async () => {
      const runId = await newRun();
      await writer.replaceRun(meta(runId), [batch(300)], async () => {});
      await writer.replaceRun(
        meta(runId),
        [batch(120), batch(7)].map((b, i) => ({ ...b, curveKey: b.curveKey.map((k) => `${i}:${k}`) })),
        async () => {},
      );
      const [{ n }] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${runId}`;
      expect(n).toBe(127);
    });

    test("a commit that throws leaves no row of that write (and the earlier rows stay)", async () => {
      const runId = await newRun();
      await writer.replaceRun(meta(runId), [batch(50)], async () => {});
      await expect(
        writer.replaceRun(meta(runId), [batch(400)], async () => {
          throw new Error("lost the lease");
        }),
      ).rejects.toThrow("lost the lease");
      const [{ n }] = await db.sql`select count(*)::int as n from scenario_output where run_id = ${runId}`;
      expect(n).toBe(50);
    });

    test("deleteRun removes the run's rows only", async () => {
      const a = await newRun();
      const b = await newRun();
      await writer.replaceRun(meta(a), [batch(10)], async () => {});
      await writer.replaceRun(meta(b), [batch(20)], async () => {});
      await writer.deleteRun(a);
      const counts = await db.sql`select run_id::text as run_id, count(*)::int as n from scenario_output where run_id in (${a}, ${b}) group by run_id`;
      expect(counts.map((r) => ({ ...r }))).toEqual([{ run_id: b, n: 20 }]);
    });
  });
}

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
      const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', ${`copy error ${rows}`}) returning id::text as id`;
      const [r] = await db.sql`insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key)
        values (${s!.id}, 't-out', 'RUNNING', ${crypto.randomUUID()}, 'k') returning id::text as id`;
      await db.sql.unsafe(`
        create or replace function reject_rows() returns trigger language plpgsql as $$ begin raise exception 'disk full (injected)'; end $$;
        create or replace trigger reject_rows before insert on scenario_output for each row execute function reject_rows();`);
      try {
        const writer = createPgOutputWriter(db.sql, { copy: true });
        const meta = { tenantId: "t-out", scenarioId: s!.id, runId: r!.id, asofDate: "2026-01-02", versionHash: "v", computedTs: "2026-01-02T00:00:00Z" };
        await expect(writer.replaceRun(meta, [batch(rows)], async () => {})).rejects.toThrow("disk full (injected)");
        // The connection is usable afterwards.
        expect((await db.sql`select 1 as one`)[0]).toEqual({ one: 1 });
      } finally {
        await db.sql.unsafe("drop trigger reject_rows on scenario_output; drop function reject_rows();");
      }
    });
  }
});
