/**
 * Runs benchmark on the Postgres store: `bun bench/runs.ts [--repeats 5] [--small 100] [--curves 40]`.
 *
 * - runs/s: `--small` short runs triggered at once through the API, embedded worker with 2 threads,
 *   from the first trigger to the last SUCCEEDED.
 * - ingest: large runs one at a time; output rows/s from claim to SUCCEEDED, against a raw
 *   `COPY ... FROM STDIN` of the very same rows into a table with the same indexes (the ceiling).
 * - pool: CPU-heavy runs with 1 and then 2 engine threads; wall time and the speed-up.
 *
 * Each figure is the median of `--repeats` rounds (min/max shown). A fresh database is created
 * on AURUM_TEST_PG_URL's server (default: local trust auth) and dropped at the end.
 */
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { createCurveRepo } from "../src/curves/repo";
import { SAMPLE_ASOF, syntheticCurves } from "../src/curves/sample";
import { createCurveService } from "../src/curves/service";
import { createPgOutputWriter } from "../src/outputs/pg-store";
import { createLogger } from "../src/platform/logger";
import { createLocalQueue } from "../src/runs/queue";
import { startWorker } from "../src/worker";
import { buildApp, call, createTestDb } from "../test/support/app";

const { values } = parseArgs({ options: { repeats: { type: "string", default: "5" }, small: { type: "string", default: "100" }, curves: { type: "string", default: "40" } } });
const repeats = Number(values.repeats);
const smallRuns = Number(values.small);
const nCurves = Number(values.curves);

const db = await createTestDb("postgres");
await createCurveService(createCurveRepo(db.sql)).loadSpecs(syntheticCurves(nCurves), SAMPLE_ASOF, 240);
const tenant = { "x-aurum-tenant": "bench" };
let seed = 1;

async function withWorker<T>(threads: number, fn: (app: ReturnType<typeof buildApp>) => Promise<T>): Promise<T> {
  const queue = createLocalQueue();
  const app = buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
  const worker = await startWorker({
    mode: "embedded",
    sql: db.sql,
    config: { ...loadConfig({}), workerConcurrency: threads, workerPollMs: 50 },
    log: createLogger("silent"),
    queue,
    writer: createPgOutputWriter(db.sql, { copy: true }),
  });
  try {
    return await fn(app);
  } finally {
    await worker.stop(1_000);
  }
}

async function scenario(app: ReturnType<typeof buildApp>, parameters: Record<string, unknown>): Promise<string> {
  const res = await call(app, "POST", "/v1/scenarios", {
    body: { name: `bench ${crypto.randomUUID()}`, assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }], parameters },
    headers: tenant,
  });
  return res.json.data.id;
}

/** Triggers `n` runs at once and waits until all are finished; returns wall ms and the run ids. */
async function batch(app: ReturnType<typeof buildApp>, scenarioId: string, n: number): Promise<{ ms: number; ids: string[] }> {
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: n }, async () => (await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { seed: seed++ }, headers: tenant })).json.data.id as string),
  );
  for (;;) {
    const [{ open, failed }] = await db.sql`select count(*) filter (where state in ('QUEUED', 'RUNNING'))::int as open,
      count(*) filter (where state <> 'SUCCEEDED' and state not in ('QUEUED', 'RUNNING'))::int as failed from scenario_run where id in ${db.sql(ids)}`;
    if (failed) throw new Error(`${failed} runs did not succeed`);
    if (!open) break;
    if (performance.now() - t0 > 120_000) throw new Error(`${open} of ${n} runs still open after 120 s`);
    await Bun.sleep(5);
  }
  return { ms: performance.now() - t0, ids };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(2));
const rows: string[][] = [];
function report(name: string, xs: number[], unit: string) {
  console.error(`measured: ${name}`);
  rows.push([name, fmt(median(xs)), fmt(Math.min(...xs)), fmt(Math.max(...xs)), unit]);
}

// 1. runs/s for many short runs.
await withWorker(2, async (app) => {
  const id = await scenario(app, { horizon_months: 12, mc_paths: 20 });
  await batch(app, id, 10); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) rates.push((smallRuns / (await batch(app, id, smallRuns)).ms) * 1000);
  report(`runs/s (${smallRuns} short runs, 2 threads)`, rates, "runs/s");
});

// 2. output rows/s of large runs vs raw COPY of the same rows.
await db.sql`create table bench_copy (like scenario_output including all)`;
await withWorker(1, async (app) => {
  const id = await scenario(app, { horizon_months: 240, mc_paths: 50 });
  await batch(app, id, 1); // warm-up
  const ingest: number[] = [];
  const raw: number[] = [];
  const ratio: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const { ids } = await batch(app, id, 1);
    const [run] = await db.sql`select rows_written::int as n, extract(epoch from finished_at - started_at)::float8 as s from scenario_run where id = ${ids[0]!}`;
    const endToEnd = run!.n / run!.s;
    // The same rows as COPY text, then COPY FROM STDIN into an identically indexed table.
    const text = await copyOut(ids[0]!);
    await db.sql`truncate bench_copy`;
    const t0 = performance.now();
    const w = await db.sql`copy bench_copy from stdin`.writable();
    w.end(text);
    await finished(w);
    const ceiling = run!.n / ((performance.now() - t0) / 1000);
    ingest.push(endToEnd);
    raw.push(ceiling);
    ratio.push(endToEnd / ceiling);
    if (r === 0) rows.push([`  (${run!.n.toLocaleString("en-US")} rows per run)`, "", "", "", ""]);
  }
  report("output rows/s, claim → SUCCEEDED (engine + COPY + commit)", ingest, "rows/s");
  report("baseline: raw COPY FROM STDIN of the same rows", raw, "rows/s");
  report("ratio end-to-end / raw COPY", ratio, "×");
});

async function copyOut(runId: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const stream = await db.sql.unsafe(`copy (select * from scenario_output where run_id = '${runId}') to stdout`).readable();
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// 3. pool speed-up on CPU-heavy runs.
const heavy: Record<number, number[]> = { 1: [], 2: [] };
for (let r = 0; r < repeats; r++) {
  for (const threads of [1, 2]) {
    await withWorker(threads, async (app) => {
      const id = await scenario(app, { horizon_months: 240, mc_paths: 4_000 });
      heavy[threads]!.push((await batch(app, id, 4)).ms);
    });
  }
}
report("4 CPU-heavy runs, 1 thread", heavy[1]!, "ms");
report("4 CPU-heavy runs, 2 threads", heavy[2]!, "ms");
report(
  "pool speed-up 1 → 2 threads",
  heavy[1]!.map((t, i) => t / heavy[2]![i]!),
  "×",
);

await db.drop();
const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...[["measure", "median", "min", "max", "unit"], ...rows].map((r) => r[i]!.length)));
for (const r of [["measure", "median", "min", "max", "unit"], ...rows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
