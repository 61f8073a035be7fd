/**
 * The Postgres output writer (COPY on a server, unnest on a server and on PGlite) against the one
 * contract every writer passes (test/support/output-contract.ts; the Iceberg writer runs it too in
 * trino-output-store.test.ts), and a COPY that the database rejects mid-stream.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { RunOutputMeta } from "../../src/outputs/store";
import { createTestDb, type Store, type TestDb } from "../support/app";
import { type ContractHarness, contractBatch, describeOutputWriterContract, type StoredRow } from "../support/output-contract";

const cases: { name: string; store: Store; copy: boolean }[] = [
  { name: "postgres, COPY", store: "postgres", copy: true },
  { name: "postgres, unnest", store: "postgres", copy: false },
  { name: "pglite, unnest", store: "pglite", copy: false },
];

async function openStore(c: (typeof cases)[number]): Promise<ContractHarness> {
  const db = await createTestDb(c.store);
  const [s] = await db.sql`insert into scenario (tenant_id, name) values ('t-out', 'writer contract') returning id::text as id`;
  const scenarioId = s!.id as string;
  return {
    writer: createPgOutputWriter(db.sql, { copy: c.copy }),
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
        await expect(writer.replaceRun(meta, [contractBatch(rows)], async () => {})).rejects.toThrow("disk full (injected)");
        // The connection is usable afterwards.
        expect((await db.sql`select 1 as one`)[0]).toEqual({ one: 1 });
      } finally {
        await db.sql.unsafe("drop trigger reject_rows on scenario_output; drop function reject_rows();");
      }
    });
  }
});
