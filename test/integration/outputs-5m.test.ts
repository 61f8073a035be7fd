/**
 * A 5,000,000-row CSV export from the API process on Postgres arrives whole (row count and value
 * checksum, read by curl and awk) and the server's memory does not grow with it: the peak over idle
 * stays within 16 MB while the first 1,000,000 rows of the same scenario stream (`limit=1000000`:
 * the same query and encoder, one fifth of the rows; recycled chunks keep it near flat, 2-6 MB
 * measured, where postgres.js's per-row buffers took 45-65 MB), within 64 MB for all 5,000,000
 * (the bound), and within 10 % of the 1,000,000-row peak.
 *
 * Its own file, apart from outputs-stream.test.ts: seeding 5,000,000 rows takes about a minute on a
 * quiet 2-core machine and four times that beside three other files, so the runner starts it first
 * and a slow seed cannot run into the other streaming tests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, type TestDb } from "../support/app";
import { curlAwk } from "../support/downloads";
import { type ApiProcess, peakRss, seedRun, startApiProcess } from "../support/outputs";

const TENANT = "t-stream-5m";
const ROWS = 5_000_000;
const MB = 1024 * 1024;

describe.skipIf(!Bun.which("curl"))("a 5,000,000-row export from Postgres, the API in its own process", () => {
  let db: TestDb;
  let api: ApiProcess;
  let scenarioId: string;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    api = await startApiProcess(db.url as string);
    const created = await fetch(`${api.base}/v1/scenarios`, {
      method: "POST",
      headers: { "x-aurum-tenant": TENANT, "content-type": "application/json" },
      body: JSON.stringify({ name: "Five million" }),
    });
    scenarioId = ((await created.json()) as { data: { id: string } }).data.id;
    await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: ROWS, curves: 400 });
    // Warm-up: what a first export allocates once is not growth.
    await (await fetch(`${api.base}/v1/scenarios/${scenarioId}/outputs?format=csv&limit=200000`, { headers: { "x-aurum-tenant": TENANT } })).arrayBuffer();
  }, 600_000);
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  /** The rows and the sum of the value column (cell 9; nothing before it holds a comma), with the server's idle and peak RSS. */
  async function exportCsv(query: string) {
    const idle = api.rssBytes();
    const { result, peak } = await peakRss(api.rssBytes, () =>
      curlAwk(`${api.base}/v1/scenarios/${scenarioId}/outputs?${query}`, TENANT, 'NR > 1 { n++; s += $9 } END { printf "%d %.0f", n, s }'),
    );
    const [rows, sum] = result.numbers;
    return { exit: result.exit, rows, sum, idle, peak };
  }

  test("every row arrives (count, value checksum); peak RSS within idle + 16 MB at 1,000,000 rows, within idle + 64 MB and 10 % of that peak at 5,000,000", async () => {
    const first = await exportCsv("format=csv&limit=1000000");
    const whole = await exportCsv("format=csv");
    expect(first).toMatchObject({ exit: 0, rows: 1_000_000 });
    expect(whole).toMatchObject({ exit: 0, rows: ROWS, sum: (ROWS * (ROWS - 1)) / 2 });
    console.log(
      `peak RSS over idle: 1 M rows +${((first.peak - first.idle) / MB).toFixed(1)} MB, 5 M rows +${((whole.peak - whole.idle) / MB).toFixed(1)} MB; peaks ${(first.peak / MB).toFixed(1)} / ${(whole.peak / MB).toFixed(1)} MB`,
    );
    expect((first.peak - first.idle) / MB).toBeLessThan(16);
    expect((whole.peak - whole.idle) / MB).toBeLessThan(64);
    expect(Math.abs(whole.peak - first.peak) / first.peak).toBeLessThan(0.1);
  }, 600_000);
});
