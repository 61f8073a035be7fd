/**
 * A large /compare download from the API as production runs it (a child process on a server
 * Postgres): every row of the full outer join arrives, and the server's memory stays flat because
 * the join runs in Postgres and its result streams through COPY.
 * @test-waits: much of its time is a stall timer and clients that read nothing, so scripts/test.ts
 *   may run it beside a file that holds the machine alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestDb, type TestDb } from "../support/app";
import { copyBackends, curlAwk, stalledGet } from "../support/downloads";
import { eventually } from "../support/eventually";
import { type ApiProcess, peakRss, seedRun, startApiProcess } from "../support/outputs";

const TENANT = "t-cmp-big";
const tenant = { "x-aurum-tenant": TENANT };
const MB = 1024 * 1024;
const A_ROWS = 1_000_000;
const B_ROWS = 900_000;
const STALL_SECONDS = 3;

describe.skipIf(!Bun.which("curl"))("a large /compare download on Postgres", () => {
  let db: TestDb;
  let api: ApiProcess;
  let a: string;
  let b: string;

  const create = async (name: string) =>
    (await (await fetch(`${api.base}/v1/scenarios`, { method: "POST", headers: { ...tenant, "content-type": "application/json" }, body: JSON.stringify({ name }) })).json()).data
      .id as string;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    // One export slot: a download that is not closed would make the next one a 429.
    api = await startApiProcess(db.url as string, { AURUM_API_OUTPUT_EXPORTS_MAX: "1", AURUM_API_EXPORT_STALL_SECONDS: String(STALL_SECONDS) });
    a = await create("A");
    b = await create("B");
    // Row i has value i in A and i + 3 in B: delta −3 where both have the key; A's last 100,000 keys are A's only.
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: a, rows: A_ROWS, curves: 400 });
    await seedRun(db.sql, { tenantId: TENANT, scenarioId: b, rows: B_ROWS, curves: 400, offset: 3 });
    await db.sql`analyze scenario_output`;
    // Warm-up: what a first export allocates once is not growth.
    await (await fetch(`${api.base}/v1/scenarios/${a}/compare?with=${b}&format=csv&limit=100000`, { headers: tenant })).arrayBuffer();
  }, 240_000);
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  }, 120_000);

  test(`${A_ROWS.toLocaleString("en")} joined rows arrive whole (row count, delta checksum, one-sided rows) with the server's RSS within idle + 16 MB`, async () => {
    const idle = api.rssBytes();
    const started = performance.now();
    // Rows, the sum of delta (column 8), and rows whose b (column 7) is empty.
    const { result, peak } = await peakRss(api.rssBytes, () =>
      curlAwk(`${api.base}/v1/scenarios/${a}/compare?with=${b}&format=csv`, TENANT, 'NR > 1 { n++; s += $8; if ($7 == "") e++ } END { printf "%d %.0f %d", n, s, e }'),
    );
    const seconds = (performance.now() - started) / 1000;
    const { exit } = result;
    const [rows, sum, onlyA] = result.numbers;
    expect({ exit, rows, sum, onlyA }).toEqual({ exit: 0, rows: A_ROWS, sum: -3 * B_ROWS, onlyA: A_ROWS - B_ROWS });
    console.log(
      `compare CSV: ${rows?.toLocaleString("en")} rows in ${seconds.toFixed(1)} s; peak RSS over idle +${((peak - idle) / MB).toFixed(1)} MB (peak ${(peak / MB).toFixed(1)} MB)`,
    );
    expect((peak - idle) / MB).toBeLessThan(16);
  }, 240_000);

  const path = (qs: string) => `/v1/scenarios/${a}/compare?with=${b}&${qs}`;

  test("a download whose client reads nothing is closed after the stall time: its COPY ends and its slot is free again", async () => {
    const stalled = stalledGet(api.base, path("format=csv"), tenant);
    expect(await stalled.status).toBe(200);
    await stalled.ended;
    await eventually(async () => (await copyBackends(db.sql)).length === 0, { what: "the stalled COPY ends" });
    const next = await fetch(`${api.base}${path("format=ndjson&limit=5")}`, { headers: tenant });
    expect([next.status, (await next.text()).trimEnd().split("\n").length]).toEqual([200, 5]);
  }, 120_000);

  test("a client that goes away mid-download ends the COPY; the next download gets the slot", async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.base}${path("format=csv")}`, { headers: tenant, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = 0;
    while (bytes < 1024 * 1024) bytes += ((await reader.read()).value as Uint8Array).length;
    abort.abort();
    await reader.cancel().catch(() => {});
    await eventually(async () => (await copyBackends(db.sql)).length === 0, { what: "the COPY of the abandoned download ends" });
    expect((await fetch(`${api.base}${path("format=csv&limit=3")}`, { headers: tenant })).status).toBe(200);
  }, 120_000);
});
