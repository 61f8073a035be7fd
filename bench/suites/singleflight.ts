/**
 * singleflight suite: two API processes sharing Redis; right after an invalidation, N concurrent
 * identical requests (half on each) all miss; the store queries they caused are counted
 * (`aurum_scenario_cache_loads_total`, summed over both). Goal (issue 7): one store query per burst.
 * Also the burst's wall time against one miss alone (same round): what waiting for the leader costs.
 */
import { cacheCounter, cachedApi, queryFixture } from "../lib/query-fixture";
import { Recorder, type SuiteContext, type SuiteResult } from "../lib/result";

export async function singleflightSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const rec = new Recorder("singleflight");
  const n = Number(ctx.flags.misses ?? (ctx.quick ? 20 : 100));
  const fixture = await queryFixture(ctx.quick ? 5_000 : 50_000);
  const [a, b] = await Promise.all([cachedApi(fixture), cachedApi(fixture)]);
  try {
    const { tenant, scenarioId } = fixture;
    const path = `/v1/scenarios/${scenarioId}/outputs?tenant_id=${tenant}&limit=1000`;
    const invalidate = () => fetch(`${a!.base}/v1/admin/cache/scenarios/${scenarioId}/invalidate?tenant_id=${tenant}`, { method: "POST" }).then((r) => r.arrayBuffer());
    const get = async (base: string) => {
      const res = await fetch(`${base}${path}`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${res.status} ${body}`);
      return body;
    };
    const loads = async () => (await cacheCounter(a!.base, "loads_total")) + (await cacheCounter(b!.base, "loads_total"));
    await get(a!.base); // warm-up
    await get(b!.base);
    const queries: number[] = [];
    const burstMs: number[] = [];
    const singleMs: number[] = [];
    let identical = true;
    for (let r = 0; r < ctx.repeats; r++) {
      await invalidate();
      let t = performance.now();
      await get(a!.base);
      singleMs.push(performance.now() - t);
      await invalidate();
      const before = await loads();
      t = performance.now();
      const bodies = await Promise.all(Array.from({ length: n }, (_, i) => get(i % 2 ? a!.base : b!.base)));
      burstMs.push(performance.now() - t);
      queries.push((await loads()) - before);
      // Same rows and meta in every answer (request ids differ, so compare `data` and `meta.run_id`).
      const pages = bodies.map((b) => {
        const j = JSON.parse(b) as { data: unknown; meta?: { run_id?: string } };
        return JSON.stringify([j.data, j.meta?.run_id]);
      });
      if (new Set(pages).size !== 1) identical = false;
      ctx.log(`singleflight round ${r + 1}: ${queries.at(-1)} store queries for ${n} misses, ${burstMs.at(-1)?.toFixed(0)} ms`);
    }
    const q = rec.figure(`store queries per burst of ${n} identical misses`, "queries", queries, "project");
    rec.ratio(`store queries per burst of ${n} misses / 1`, q, { name: "one query", samples: queries.map(() => 1) }, { text: "= 1", meets: (x) => x <= 1 });
    const burst = rec.figure(`${n} concurrent misses, wall time`, "ms", burstMs, "project");
    const single = rec.figure("one miss alone, wall time", "ms", singleMs, "baseline");
    rec.ratio(`${n} concurrent misses / one miss, wall time`, burst, single);
    rec.check("all answers of a burst carry identical rows", String(identical), identical);
  } finally {
    await Promise.all([a?.stop(), b?.stop()]);
    await fixture.close();
  }
  return rec.result;
}
