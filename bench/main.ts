/**
 * The built-in benchmark: `bun run bench [suite...] [flags]` (docs/performance.md).
 *
 * Suites: export, query, singleflight, runs, engine, http (all by default). Each prints a table
 * of medians (with min/max) over --repeats rounds after a warm-up, and ratios of the project's
 * figure to a baseline measured in the same rounds.
 *
 *   --quick                 tiny sizes, 2 rounds: a smoke test of the harness, not a measurement
 *   --repeats N             rounds per figure (default 5)
 *   --json FILE             every figure, ratio and distribution with machine facts
 *   --compare BASE.json     exit 1 when a ratio regressed beyond --tolerance (default 10%)
 *   --against CUR.json      with --compare: compare a saved result instead of running
 *   --report FILE.html      a self-contained page with charts (inline SVG)
 *   --store-metrics         write p95s and ratios to ops_metrics (--metrics-dsn, default AURUM_APP_DB_DSN)
 *   AURUM_BENCH_SLOWDOWN=0.2  makes the project side of every measured pair 20 % worse (see result.ts)
 * Suite flags: see `--help`.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { compare, printComparison } from "./lib/compare";
import { type BenchFile, readBenchFile, slowed } from "./lib/file";
import { machineFacts } from "./lib/machine";
import { storeOpsMetrics } from "./lib/ops-metrics";
import { renderReport } from "./lib/report";
import { type SuiteContext, type SuiteResult, slowdownFromEnv } from "./lib/result";
import { parseTolerance } from "./lib/stats";
import { printSuite } from "./lib/table";
import { SUITES, type SuiteName } from "./suites";

const HELP = `bun run bench [suite...] [flags]     suites: ${Object.keys(SUITES).join(", ")} (default: all)

  --quick  --repeats N  --json FILE  --report FILE.html  --compare BASE.json [--tolerance 10%] [--against CUR.json]
  --store-metrics [--metrics-dsn URL]
  export:       --rows N (50000)  --trino-rows N (20000)
  query:        --tenant-id T --scenario-id S [--api-url URL | --db URL]  --iterations N (200)  --limit N (100)  --small-limit N (10)
                --use-cache (only cached; default both)  --metric NAME  --concurrency 1,10,50  --rows N (seeded run size)
  singleflight: --misses N (100)
  runs:         --runs-small N (40)  --runs-curves N (40)  --runs-sections pool,short,ingest,kafka,delete,maintain,claim (all)
                --runs-maintain-snapshot-retention 0s
  engine:       --engine-curves N (200) --engine-months N (240) --engine-paths N (200)
  http:         --requests N (3000)
  AURUM_BENCH_SLOWDOWN=0.2  synthetic regression: the project side of every measured ratio made 20 % worse`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    help: { type: "boolean", short: "h" },
    quick: { type: "boolean", default: false },
    repeats: { type: "string" },
    json: { type: "string" },
    report: { type: "string" },
    compare: { type: "string" },
    against: { type: "string" },
    tolerance: { type: "string", default: "10%" },
    "store-metrics": { type: "boolean", default: false },
    "metrics-dsn": { type: "string" },
    rows: { type: "string" },
    "trino-rows": { type: "string" },
    "tenant-id": { type: "string" },
    "scenario-id": { type: "string" },
    "api-url": { type: "string" },
    db: { type: "string" },
    iterations: { type: "string" },
    limit: { type: "string" },
    "small-limit": { type: "string" },
    "use-cache": { type: "boolean" },
    metric: { type: "string" },
    concurrency: { type: "string" },
    misses: { type: "string" },
    "runs-small": { type: "string" },
    "runs-curves": { type: "string" },
    "runs-sections": { type: "string" },
    "runs-maintain-snapshot-retention": { type: "string" },
    "engine-curves": { type: "string" },
    "engine-months": { type: "string" },
    "engine-paths": { type: "string" },
    requests: { type: "string" },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const tolerance = parseTolerance(values.tolerance);

// Comparing two saved results: no run.
if (values.against) {
  if (!values.compare) throw new Error("--against needs --compare BASELINE.json");
  const c = compare(await readBenchFile(values.compare), slowed(await readBenchFile(values.against), slowdownFromEnv()), tolerance);
  console.log(printComparison(c, tolerance));
  process.exit(c.regressions ? 1 : 0);
}

const names = (positionals.length ? positionals : Object.keys(SUITES)) as SuiteName[];
for (const n of names) if (!(n in SUITES)) throw new Error(`unknown suite '${n}'; suites: ${Object.keys(SUITES).join(", ")}`);
const repeats = Number(values.repeats ?? (values.quick ? 2 : 5));
const ctx: SuiteContext = { quick: values.quick, repeats, flags: values, log: (line) => console.error(`  ${line}`) };

const startedAt = new Date().toISOString();
const machine = await machineFacts();
console.log(
  `aurum bench: ${names.join(", ")}; ${values.quick ? "QUICK (tiny sizes, not a measurement)" : `medians of ${repeats} rounds`}; ${machine.cpu}, ${machine.cores} cores, load ${machine.load_avg.join(" ")}; bun ${machine.bun}, postgres ${machine.postgres ?? "?"}, redis ${machine.redis ?? "?"}, trino ${machine.trino ?? "not running"}`,
);
if (slowdownFromEnv()) console.log(`AURUM_BENCH_SLOWDOWN=${slowdownFromEnv()}: the project side of every ratio is made ${(slowdownFromEnv() * 100).toFixed(0)} % worse`);

const suites: SuiteResult[] = [];
for (const name of names) {
  console.error(`-- ${name}`);
  const t0 = performance.now();
  let result: SuiteResult;
  try {
    result = await SUITES[name](ctx);
  } catch (e) {
    result = { suite: name, notes: [], figures: [], ratios: [], distributions: [], checks: [{ name: "suite ran", value: String((e as Error).stack ?? e), ok: false }] };
  }
  result.seconds = (performance.now() - t0) / 1000;
  suites.push(result);
  console.log(`\n${printSuite(result)}`);
}

const file: BenchFile = {
  format: "aurum-bench/1",
  started_at: startedAt,
  finished_at: new Date().toISOString(),
  argv: process.argv.slice(2),
  quick: values.quick,
  repeats,
  slowdown: slowdownFromEnv(),
  machine,
  suites,
};
if (values.json) {
  writeFileSync(values.json, `${JSON.stringify(file, null, 1)}\n`);
  console.error(`wrote ${values.json}`);
}
let baseline: BenchFile | undefined;
if (values.compare) baseline = await readBenchFile(values.compare);
if (values.report) {
  writeFileSync(values.report, renderReport(file, baseline));
  console.error(`wrote ${values.report}`);
}
if (values["store-metrics"]) {
  const dsn = values["metrics-dsn"] ?? process.env.AURUM_APP_DB_DSN ?? process.env.AURUM_TIMESCALE_DSN;
  if (!dsn) throw new Error("--store-metrics needs --metrics-dsn URL (or AURUM_APP_DB_DSN)");
  const { rows, hypertable } = await storeOpsMetrics(dsn, file);
  console.log(`\nops_metrics: ${rows} rows written (${hypertable ? "Timescale hypertable" : "plain table"})`);
}

const failed = suites.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => `${s.suite}: ${c.name}`));
let exit = 0;
if (baseline) {
  const c = compare(baseline, file, tolerance);
  console.log(`\n${printComparison(c, tolerance)}`);
  if (c.regressions) exit = 1;
}
if (failed.length) {
  console.log(`\nfailed checks: ${failed.join("; ")}`);
  exit = exit || 2;
}
process.exit(exit);
