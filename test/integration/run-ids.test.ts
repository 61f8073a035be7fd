/**
 * Run ids are time-ordered UUIDs (version 7, migration 015), so a new run's output rows go in at the
 * right edge of `scenario_output`'s primary key (run_id first) instead of splitting pages in its
 * middle (docs/decisions/0007-postgres-ingest.md). On both stores: PGlite runs the same migration.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildApp, call, createTestDb, type Store, type TestDb } from "../support/app";

/** The Unix milliseconds in a UUIDv7's first 48 bits. */
const unixMs = (id: string) => Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);

for (const store of ["postgres", "pglite"] as Store[]) {
  describe(`run ids on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    const tenant = { "x-aurum-tenant": "t-ids" };

    beforeAll(async () => {
      db = await createTestDb(store, { sampleCurves: true });
      app = await buildApp(db);
    });
    afterAll(async () => {
      await db?.drop();
    });

    test("are UUIDv7: the version and variant bits, the creation time in the first 48 bits, in the order the runs were made", async () => {
      const scenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "ids" }, headers: tenant })).json.data.id as string;
      const ids: string[] = [];
      for (let seed = 1; seed <= 5; seed++) {
        const res = await call(app, "POST", `/v1/scenarios/${scenario}/run`, { body: { seed }, headers: tenant });
        expect(res.status).toBe(202);
        ids.push(res.json.data.id);
      }
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(ids).size).toBe(5);
      // Made one after the other: their times never go back (two in one millisecond share it).
      const times = ids.map(unixMs);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      // The time is the run's creation time (set by the same statement, a few microseconds apart).
      const rows = await db.sql<{ id: string; created: number }[]>`
        select id::text as id, (extract(epoch from created_at) * 1000)::float8 as created from scenario_run where id in ${db.sql(ids)}`;
      for (const r of rows) expect(Math.abs(unixMs(r.id) - r.created)).toBeLessThan(1_000);
    });
  });
}
