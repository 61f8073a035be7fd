/**
 * runs suite, claim section: what one claim costs against the length of the queue (docs/runs.md,
 * "Fairness"; ddl/postgres/017_claim_order.sql). Two databases of their own on the suite's Postgres,
 * alike but for the queue: 10 tenants, 20,000 finished runs, and `short` or `long` runs QUEUED
 * (all priorities, all due). Each round times `CLAIMS` calls of the repository's nextQueued in
 * each (the query every embedded dispatcher runs before a claim; it changes nothing, so every call
 * sees the same queue) and records their median. The ratio long / short is what a queue 500 times
 * longer adds to a claim. Until stop 53 a claim read and sorted every due run: this section on that
 * query read 88–90 ms against 0.23–0.31 ms, a ratio of 354 (3 rounds); since, 1.17.
 */
import { createRunRepo } from "../../src/runs/repo";
import { createTestDb, type TestDb } from "../../test/support/app";
import type { Recorder, SuiteContext } from "../lib/result";
import { median } from "../lib/stats";

const TENANTS = 10;
const FINISHED = 20_000;
const CLAIMS = 30;

export async function claimCost(ctx: SuiteContext, rec: Recorder, o: { short: number; long: number }): Promise<void> {
  const dbs: TestDb[] = [];
  try {
    const queue = async (queued: number) => {
      const db = await createTestDb("postgres");
      dbs.push(db);
      await db.sql`insert into scenario (tenant_id, name) select 't' || (g % ${TENANTS}), 'claim ' || g from generate_series(1, ${TENANTS * 10}) g`;
      // Runs spread over the scenarios (and so the tenants), every priority; finished ones started and ended a second apart.
      const runs = (state: "SUCCEEDED" | "QUEUED", n: number) =>
        db.sql.unsafe(
          `insert into scenario_run (scenario_id, tenant_id, state, priority, input_hash, started_at, finished_at)
           select s.id, s.tenant_id, '${state}', (array['LOW','NORMAL','HIGH','CRITICAL'])[1 + g % 4], '${state}' || g, t, t
           from generate_series(1, ${n}) g
           join (select id, tenant_id, row_number() over (order by id) - 1 as k from scenario) s on s.k = (g * 7) % ${TENANTS * 10}
           cross join lateral (select case when '${state}' = 'SUCCEEDED' then now() - g * interval '1 second' end as t) f`,
        );
      await runs("SUCCEEDED", FINISHED);
      await runs("QUEUED", queued);
      await db.sql`vacuum analyze scenario_run`;
      return createRunRepo(db.sql);
    };
    const short = await queue(o.short);
    const long = await queue(o.long);
    const timed = async (repo: ReturnType<typeof createRunRepo>) => {
      const ms: number[] = [];
      for (let i = 0; i < CLAIMS; i++) {
        const t0 = performance.now();
        if (!(await repo.nextQueued())) throw new Error("nextQueued found no run in a full queue");
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    await timed(short); // warm-up: connections, prepared statements
    await timed(long);
    const m = { short: [] as number[], long: [] as number[] };
    for (let r = 0; r < ctx.repeats; r++) {
      m.short.push(await timed(short));
      m.long.push(await timed(long));
      ctx.log(`claim round ${r + 1}: ${m.long.at(-1)?.toFixed(2)} ms with ${o.long} runs queued, ${m.short.at(-1)?.toFixed(2)} ms with ${o.short}`);
    }
    const longF = rec.figure(`one claim's lookup (nextQueued) with ${o.long.toLocaleString("en-US")} runs queued, median of ${CLAIMS}`, "ms", m.long, "project");
    const shortF = rec.figure(`one claim's lookup (nextQueued) with ${o.short.toLocaleString("en-US")} runs queued, median of ${CLAIMS}`, "ms", m.short, "baseline");
    rec.ratio(`claim lookup, ${o.long.toLocaleString("en-US")} runs queued / ${o.short.toLocaleString("en-US")}`, longF, shortF, {
      text: "≤ 2 (follows the tenants, not the runs)",
      meets: (v) => v <= 2,
    });
    rec.note(
      `claim: ${TENANTS} tenants, ${FINISHED.toLocaleString("en-US")} finished runs in each database; before migration 017 (stop 53) the 50,000-run lookup took 88–90 ms, the ratio 354`,
    );
  } finally {
    for (const db of dbs) await db.drop();
  }
}
