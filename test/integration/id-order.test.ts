/**
 * Orders by a bigint id on a real Postgres, past id 9. Each of these queries selects `id::text as
 * id` and orders by id: until stop 47 the ORDER BY took the text (output names win there), so
 * ids went 1, 10, 11, 12, 2, ... They now name the table's column.
 * - the outbox (`lockDue`): due time, then the order the messages were written;
 * - the runtime-config audit log: newest first, and its `beforeId` pages continue from there;
 * - owed cache bumps: oldest first.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createBumpRepo } from "../../src/cache/bump-repo";
import { createConfigRepo } from "../../src/flags/repo";
import { createOutboxRepo } from "../../src/runs/outbox";
import { createTestDb, type TestDb } from "../support/app";

const range = (from: number, to: number) => Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (from <= to ? from + i : from - i));

describe("orders by a bigint id, past id 9", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("outbox: messages due at the same instant come in the order they were written; earlier ones first", async () => {
    const [scenario] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values ('t-order', 'id order') returning id::text as id`;
    const [run] = await db.sql<{ id: string }[]>`
      insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key) values (${scenario?.id as string}::uuid, 't-order', 'QUEUED', 'h', 'k') returning id::text as id`;
    // 12 messages due at one instant, then 3 due a second earlier.
    await db.sql`
      insert into run_outbox (run_id, topic, msg_key, payload, available_at)
      select ${run?.id as string}::uuid, 'topic', 'key', jsonb_build_object('n', n), timestamptz '2026-01-01 00:00:01+00' from generate_series(1, 12) n`;
    await db.sql`
      insert into run_outbox (run_id, topic, msg_key, payload, available_at)
      select ${run?.id as string}::uuid, 'topic', 'key', jsonb_build_object('n', 100 + n), timestamptz '2026-01-01 00:00:00+00' from generate_series(1, 3) n`;
    const rows = await db.sql.begin((tx) => createOutboxRepo(db.sql).lockDue(tx, 100));
    expect(rows.map((r) => (r.payload as { n: number }).n)).toEqual([101, 102, 103, ...range(1, 12)]);
  });

  test("runtime-config audit log: newest first, and a page continues below its last id", async () => {
    await db.sql`
      insert into runtime_config_audit (actor, scope, kind, name, new_value, version)
      select 'user-' || n, 'tenant-order', 'feature', 'f', to_jsonb(n), n from generate_series(1, 12) n`;
    const repo = createConfigRepo(db.sql);
    const first = await repo.audit({ scope: "tenant-order", limit: 5 });
    expect(first.map((r) => r.version)).toEqual(range(12, 8));
    const next = await repo.audit({ scope: "tenant-order", limit: 5, beforeId: first.at(-1)?.id });
    expect(next.map((r) => r.version)).toEqual(range(7, 3));
  });

  test("owed cache bumps: oldest first", async () => {
    await db.sql`
      insert into cache_bump_pending (tenant_id, reason, created_at)
      select 't-order', 'r' || n, clock_timestamp() - interval '1 hour' from generate_series(1, 12) n`;
    const repo = createBumpRepo(db.sql);
    expect((await repo.owedBy("t-order")).map((b) => b.reason)).toEqual(range(1, 12).map((n) => `r${n}`));
    expect((await repo.owedLongerThan(1_000, 5)).map((b) => b.reason)).toEqual(range(1, 5).map((n) => `r${n}`));
  });
});
