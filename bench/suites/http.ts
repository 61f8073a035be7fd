/**
 * http suite: the same handler behind an Elysia route and behind bare `Bun.serve`, in one child
 * process (bench/suites/http-server.ts). Each round, interleaved: sequential requests (latency)
 * and requests at concurrency 16 (throughput) against each. Ratio: Elysia / Bun.serve.
 */
import { load, spawnServer } from "../lib/load";
import { Recorder, type SuiteContext, type SuiteResult } from "../lib/result";
import { percentile } from "../lib/stats";

export async function httpSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const rec = new Recorder("http");
  const n = Number(ctx.flags.requests ?? (ctx.quick ? 300 : 3000));
  const server = await spawnServer(`${import.meta.dir}/http-server.ts`);
  try {
    const [ep, bp] = server.line.split(" ");
    const url = { elysia: `http://127.0.0.1:${ep}/items/42`, bare: `http://127.0.0.1:${bp}/items/42` };
    const same = [await (await fetch(url.elysia)).text(), await (await fetch(url.bare)).text()];
    rec.check("same body from both", same[0] ?? "", same[0] === same[1]);
    for (const u of Object.values(url)) await load(u, Math.min(n, 1000), 8); // warm-up
    const rps = { elysia: [] as number[], bare: [] as number[] };
    const p50 = { elysia: [] as number[], bare: [] as number[] };
    const seq = { elysia: [] as number[], bare: [] as number[] };
    for (let r = 0; r < ctx.repeats; r++) {
      for (const k of ["elysia", "bare"] as const) {
        const s = await load(url[k], Math.floor(n / 3), 1);
        seq[k].push(...s.latencies);
        p50[k].push(percentile(s.latencies, 50));
        const c = await load(url[k], n, 16);
        if (c.errors) throw new Error(`${k}: ${c.errors} non-200 answers`);
        rps[k].push(n / c.seconds);
      }
      ctx.log(`http round ${r + 1}: elysia ${Math.round(rps.elysia.at(-1) ?? 0)} req/s, bare ${Math.round(rps.bare.at(-1) ?? 0)} req/s`);
    }
    const e = rec.figure("Elysia route, req/s at concurrency 16", "req/s", rps.elysia, "project");
    const b = rec.figure("bare Bun.serve, req/s at concurrency 16", "req/s", rps.bare, "baseline");
    const el = rec.figure("Elysia route, sequential p50", "ms", p50.elysia, "project");
    const bl = rec.figure("bare Bun.serve, sequential p50", "ms", p50.bare, "baseline");
    rec.distribution("sequential", "Elysia route", seq.elysia, "project");
    rec.distribution("sequential", "bare Bun.serve", seq.bare, "baseline");
    rec.ratio("Elysia / Bun.serve, req/s", e, b, { text: "≥ 0.80", meets: (x) => x >= 0.8 });
    rec.ratio("Elysia / Bun.serve, sequential p50", el, bl);
  } finally {
    await server.stop();
  }
  return rec.result;
}
