/**
 * The outbox's publishing order on a real Postgres: due time, then the order the messages were
 * written (the identity id, as a number). Until stop 47 `lockDue` ordered by the id's text, so
 * messages falling due in the same microsecond went out as 1, 10, 11, 12, 2, ...
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOutboxRepo } from "../../src/runs/outbox";
import { createTestDb, type TestDb } from "../support/app";

describe("run_outbox publishing order", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("messages due at the same instant come in the order they were written, past id 9; then later ones", async () => {
    const [scenario] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values ('t-outbox', 'outbox order') returning id::text as id`;
    const [run] = await db.sql<{ id: string }[]>`
      insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key) values (${scenario?.id as string}::uuid, 't-outbox', 'QUEUED', 'h', 'k') returning id::text as id`;
    // 12 messages due at one instant (one statement: one value for all), then 3 due a second earlier.
    await db.sql`
      insert into run_outbox (run_id, topic, msg_key, payload, available_at)
      select ${run?.id as string}::uuid, 'topic', 'key', jsonb_build_object('n', n), timestamptz '2026-01-01 00:00:01+00' from generate_series(1, 12) n`;
    await db.sql`
      insert into run_outbox (run_id, topic, msg_key, payload, available_at)
      select ${run?.id as string}::uuid, 'topic', 'key', jsonb_build_object('n', 100 + n), timestamptz '2026-01-01 00:00:00+00' from generate_series(1, 3) n`;
    const rows = await db.sql.begin((tx) => createOutboxRepo(db.sql).lockDue(tx, 100));
    expect(rows.map((r) => (r.payload as { n: number }).n)).toEqual([101, 102, 103, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const ids = rows.map((r) => Number(r.id));
    expect(ids.slice(3)).toEqual([...ids.slice(3)].sort((a, b) => a - b));
  });
});
