/**
 * Output export benchmark on the Postgres store: `bun bench/outputs.ts [--rows 5000000] [--repeats 5]`.
 *
 * The API runs as production runs it (`bun src/main.ts api`, its own process). Every figure is
 * the median of `--repeats` interleaved rounds, each timing psql and the API back to back:
 * - CSV rows/s: `curl -o /dev/null .../outputs?format=csv` against `psql -c "COPY (same query) TO STDOUT WITH CSV" > /dev/null`;
 * - NDJSON rows/s: `format=ndjson` against `psql -c "COPY (SELECT row_to_json(t) FROM (same query) t) TO STDOUT"`;
 * - time to first byte: from spawning the client (curl or psql) to its first byte on stdout.
 * Then, once: the export's checksum against psql's bytes, peak server RSS over idle for 1 M and
 * for all rows, a client reading at 1 MB/s for 10 s, a client leaving after 1 MB, gzip/zstd,
 * and the row-encoder path (PGlite/Trino) in process. A fresh database on AURUM_TEST_PG_URL's
 * server is created and dropped (`--keep-db` keeps it; `--db <url>` runs against a kept one).
 */
import net from "node:net";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { copyStatement, createPgOutputReader } from "../src/outputs/pg-reader";
import { createTestDb } from "../test/support/app";
import { seedRun, startApiProcess } from "../test/support/outputs";
import { firstByte as spawnToFirstByte } from "./lib/proc";

const { values } = parseArgs({
  options: { rows: { type: "string", default: "5000000" }, repeats: { type: "string", default: "5" }, "keep-db": { type: "boolean", default: false }, db: { type: "string" } },
});
const ROWS = Number(values.rows);
const REPEATS = Number(values.repeats);
const MB = 1024 * 1024;
const tenant = "bench";

// --db reuses a database that an earlier `--keep-db` run seeded (seeding 5 M rows takes a minute or two).
const db = values.db ? { sql: postgres(values.db, { max: 4, onnotice: () => {} }), url: values.db, drop: async () => {} } : await createTestDb("postgres");
const url = db.url as string;
let t0 = performance.now();
const [existing] = values.db
  ? await db.sql<{ scenario_id: string; run_id: string }[]>`select scenario_id::text, id::text as run_id from scenario_run where tenant_id = ${tenant} limit 1`
  : [];
const [scenario] = existing
  ? [{ id: existing.scenario_id }]
  : await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values (${tenant}, 'bench') returning id::text as id`;
const scenarioId = (scenario as { id: string }).id;
const runId = existing?.run_id ?? (await seedRun(db.sql, { tenantId: tenant, scenarioId, rows: ROWS, curves: 400 }));
if (!existing) await db.sql`vacuum analyze scenario_output`;
const [{ n: stored } = { n: 0 }] = await db.sql<{ n: number }[]>`select count(*)::int as n from scenario_output where run_id = ${runId}`;
if (stored !== ROWS) throw new Error(`the database holds ${stored} rows, not --rows ${ROWS}`);
console.error(`${existing ? "reused" : "seeded"} ${ROWS} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s (${url})`);

const api = await startApiProcess(url);
const filter = { tenantId: tenant, scenarioId, runId };
const apiUrl = (qs: string) => `${api.base}/v1/scenarios/${scenarioId}/outputs?tenant_id=${tenant}&${qs}`;
const psql = (statement: string) => ["psql", url, "-X", "-q", "-c", statement];
const CSV_SQL = copyStatement(filter, { format: "csv", escapeFormulas: false });
const NDJSON_SQL = copyStatement(filter, { format: "ndjson", escapeFormulas: false });
// The issue's reference command: row_to_json in COPY's text format.
const NDJSON_PSQL = NDJSON_SQL.replace(/ with \(format csv, quote E'\\x01', delimiter E'\\x02'\)$/, "");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const copyBackends = async () =>
  (await db.sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query like 'copy (%' and pid <> pg_backend_pid()`)[0]?.n as number;
async function quiet() {
  while ((await copyBackends()) > 0) await Bun.sleep(20);
}

/** Wall seconds of a command whose stdout goes to /dev/null. */
async function timed(cmd: string[]): Promise<number> {
  await quiet();
  const start = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`${cmd[0]} failed`);
  return (performance.now() - start) / 1000;
}

/** Milliseconds from spawning the command (on a quiet machine) to its first byte on stdout. */
async function firstByte(cmd: string[]): Promise<number> {
  await quiet();
  return spawnToFirstByte(cmd);
}

async function sha256(cmd: string[]): Promise<{ hash: string; bytes: number; lines: number }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit" });
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  let lines = 0;
  for await (const chunk of proc.stdout) {
    hasher.update(chunk);
    bytes += chunk.length;
    for (const b of chunk) if (b === 10) lines++;
  }
  await proc.exited;
  return { hash: hasher.digest("hex"), bytes, lines };
}

/** Runs `work` while sampling the API's RSS every 20 ms; returns the peak. */
async function peakRss(work: () => Promise<unknown>): Promise<number> {
  let peak = api.rssBytes();
  const timer = setInterval(() => (peak = Math.max(peak, api.rssBytes())), 20);
  await work();
  clearInterval(timer);
  return peak;
}

const curl = (qs: string, ...extra: string[]) => ["curl", "-sf", ...extra, "-o", "-", apiUrl(qs)];
const rounds: Record<string, number[]> = { psqlCsv: [], apiCsv: [], psqlNdjson: [], apiNdjson: [], psqlTtfb: [], apiTtfb: [] };
await timed(curl("format=csv&limit=100000")); // warm-up: JIT, caches
for (let r = 0; r < REPEATS; r++) {
  rounds.psqlCsv?.push(await timed(psql(CSV_SQL)));
  rounds.apiCsv?.push(await timed(curl("format=csv")));
  rounds.psqlNdjson?.push(await timed(psql(NDJSON_PSQL)));
  rounds.apiNdjson?.push(await timed(curl("format=ndjson")));
  rounds.psqlTtfb?.push(await firstByte(psql(CSV_SQL)));
  rounds.apiTtfb?.push(await firstByte(curl("format=csv", "-N")));
  console.error(
    `round ${r + 1}/${REPEATS}: ${Object.entries(rounds)
      .map(([k, v]) => `${k} ${(v.at(-1) as number).toFixed(3)}`)
      .join(", ")}`,
  );
}
const m = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, median(v)])) as Record<keyof typeof rounds, number>;

// Correctness: the API's CSV is byte for byte psql's COPY of the same query.
await quiet();
const fromApi = await sha256(curl("format=csv"));
const fromPsql = await sha256(psql(CSV_SQL));

// Memory: peak over idle for 1 M rows and for all of them, interleaved, `--repeats` rounds (a fresh idle reading before each).
const peaks = { over1M: [] as number[], overAll: [] as number[], abs1M: [] as number[], absAll: [] as number[] };
const measurePeak = async (qs: string, over: number[], abs: number[]) => {
  await quiet();
  await Bun.sleep(300);
  const before = api.rssBytes();
  const peak = await peakRss(() => timed(curl(qs)));
  over.push(peak - before);
  abs.push(peak);
};
const idle = api.rssBytes();
for (let r = 0; r < REPEATS; r++) {
  await measurePeak("format=csv&limit=1000000", peaks.over1M, peaks.abs1M);
  await measurePeak("format=csv", peaks.overAll, peaks.absAll);
}
const { over1M, overAll } = peaks;
const [mem1M, memAll, abs1M, absAll] = [median(over1M), median(overAll), median(peaks.abs1M), median(peaks.absAll)];

// A client reading at 1 MB/s for 10 s.
await quiet();
const slowIdle = api.rssBytes();
const slowPeak = await peakRss(async () => {
  const proc = Bun.spawn(["curl", "-s", "--limit-rate", "1M", "--max-time", "10", "-o", "/dev/null", apiUrl("format=csv")], { stdout: "ignore" });
  await proc.exited;
});

// A client that leaves after 1 MB: how long the COPY outlives it.
await quiet();
const leaveMs = await new Promise<number>((resolve) => {
  const u = new URL(apiUrl("format=csv"));
  const socket = net.connect(Number(u.port), u.hostname);
  socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n\r\n`);
  let bytes = 0;
  socket.on("data", async (b: Buffer) => {
    bytes += b.length;
    if (bytes < MB || socket.destroyed) return;
    socket.destroy();
    const left = performance.now();
    while ((await copyBackends()) > 0) await Bun.sleep(10);
    resolve(performance.now() - left);
  });
});

// Compression (informative): one run each.
const gzip = await timed(curl("format=csv", "-H", "accept-encoding: gzip"));
const zstd = await timed(curl("format=csv", "-H", "accept-encoding: zstd"));

// The row-encoder path (PGlite and Trino adapters) in process, on up to 1 M rows, against COPY in process.
const SAMPLE = Math.min(ROWS, 1_000_000);
async function inProcess(copy: boolean): Promise<number> {
  await quiet();
  const reader = createPgOutputReader(db.sql, { copy });
  t0 = performance.now();
  for await (const _ of reader.export(filter, { format: "csv", limit: SAMPLE, escapeFormulas: false, signal: new AbortController().signal })) void _;
  return SAMPLE / ((performance.now() - t0) / 1000);
}
const encoderRows = await inProcess(false);
const copyRows = await inProcess(true);

await api.stop();
if (values["keep-db"] || values.db) await db.sql.end();
else await db.drop();

const rate = (s: number) => Math.round(ROWS / s).toLocaleString("en");
const pct = (a: number, b: number) => `${Math.round((a / b) * 100)} %`;
console.log(`
rows: ${ROWS.toLocaleString("en")} (${(fromPsql.bytes / MB).toFixed(0)} MB of CSV), medians of ${REPEATS} interleaved rounds

| measure | psql | API | API / psql | target |
|---|---|---|---|---|
| CSV rows/s | ${rate(m.psqlCsv)} | ${rate(m.apiCsv)} | ${pct(m.psqlCsv, m.apiCsv)} | ≥ 85 % |
| NDJSON rows/s | ${rate(m.psqlNdjson)} | ${rate(m.apiNdjson)} | ${pct(m.psqlNdjson, m.apiNdjson)} | ≥ 80 % |
| time to first byte | ${m.psqlTtfb.toFixed(1)} ms | ${m.apiTtfb.toFixed(1)} ms | ${(m.apiTtfb - m.psqlTtfb).toFixed(1)} ms more | ≤ 20 ms more |

| check | result |
|---|---|
| CSV export vs psql COPY, sha256 | ${fromApi.hash === fromPsql.hash ? "identical" : `DIFFERENT (${fromApi.hash} vs ${fromPsql.hash})`}; ${(fromApi.lines - 1).toLocaleString("en")} rows |
| server RSS idle | ${(idle / MB).toFixed(0)} MB |
| peak over idle, 1 M rows (median of ${REPEATS}; min–max) | ${(mem1M / MB).toFixed(1)} MB (${(Math.min(...over1M) / MB).toFixed(1)}–${(Math.max(...over1M) / MB).toFixed(1)}) |
| peak over idle, ${ROWS.toLocaleString("en")} rows (median of ${REPEATS}; min–max) | ${(memAll / MB).toFixed(1)} MB (${(Math.min(...overAll) / MB).toFixed(1)}–${(Math.max(...overAll) / MB).toFixed(1)}); difference ${((memAll - mem1M) / MB).toFixed(1)} MB |
| peak RSS, 1 M vs ${ROWS.toLocaleString("en")} rows (medians) | ${(abs1M / MB).toFixed(1)} vs ${(absAll / MB).toFixed(1)} MB: ${pct(Math.abs(absAll - abs1M), abs1M)} apart |
| 1 MB/s client for 10 s, peak over idle | ${((slowPeak - slowIdle) / MB).toFixed(1)} MB |
| client leaves after 1 MB → COPY ended after | ${leaveMs.toFixed(0)} ms |
| gzip / zstd export, s | ${gzip.toFixed(2)} / ${zstd.toFixed(2)} (plain ${m.apiCsv.toFixed(2)}) |
| in process, ${SAMPLE.toLocaleString("en")} rows, rows/s: COPY / row encoders | ${Math.round(copyRows).toLocaleString("en")} / ${Math.round(encoderRows).toLocaleString("en")} |
`);
