/**
 * Output downloads over real HTTP: a failure after the first byte never looks like a complete file;
 * against the API process on Postgres, a 400,000-row export (about 60 MB of CSV, ten times what
 * loopback sockets buffer) arrives whole (count, checksum, order), a slow client is held back by
 * backpressure, a client that leaves ends the query, and the export limit. Flat memory at 1,000,000
 * and 5,000,000 rows is run-memory.test.ts' (the export of its large run). Throughput against psql
 * is in the bench (bench/outputs.ts).
 * @test-waits: most of its time is a client throttled to 1 MB/s for 30 s (CPU 5 s of 48 s), so
 *   scripts/test.ts may run it beside a file that holds the machine alone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createPgOutputReader } from "../../src/outputs/pg-reader";
import type { OutputReader } from "../../src/outputs/reader";
import { apiApp, call, createTestDb, STORES, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { copyBackends, slowGet } from "../support/downloads";
import { eventually } from "../support/eventually";
import { type ApiProcess, peakRss, seedRun, startApiProcess } from "../support/outputs";

const TENANT = "t-stream";
const tenant = { "x-aurum-tenant": TENANT };

function serve(app: App) {
  const server = app.listen({ port: 0, hostname: "127.0.0.1" }).server;
  if (!server) throw new Error("server did not start");
  return { app, base: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

/** Reads a body to its end or its error; returns the bytes that arrived and the error, if any. */
async function drain(res: Response, onChunk?: (bytes: number) => void): Promise<{ bytes: number; text: string; error?: unknown }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes, text };
      bytes += value.length;
      text = (text + decoder.decode(value, { stream: true })).slice(-4096);
      onChunk?.(bytes);
    }
  } catch (error) {
    return { bytes, text, error };
  }
}

/** A download over the socket: its error (a reset before or after the headers), or how it ended. */
async function attempt(response: Promise<Response>) {
  return response.then(drain, (error: unknown) => ({ bytes: 0, text: "", error }));
}

for (const store of STORES) {
  describe(`a failing export on ${store}`, () => {
    let db: TestDb;
    let scenarioId: string;
    let http: ReturnType<typeof serve>;
    const chunk = new TextEncoder().encode(`${"x".repeat(99_999)}\n`);
    let failAt = 0;

    beforeAll(async () => {
      db = await createTestDb(store);
      const real = createPgOutputReader(db.sql);
      const failing: OutputReader = {
        ...real,
        async *export() {
          for (let i = 0; i < failAt; i++) {
            await Bun.sleep(20); // as a store would: the response headers go out before the failure
            yield chunk;
          }
          throw new Error("the store went away");
        },
      };
      const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
      const app = checked(await apiApp(db, config, { outputs: failing }));
      http = serve(app);
      scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Failing" }, headers: tenant })).json.data.id;
      await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: 10 });
    });
    afterAll(async () => {
      http?.stop();
      await db?.drop();
    });
    const download = (format: string, headers: Record<string, string> = {}) =>
      fetch(`${http.base}/v1/scenarios/${scenarioId}/outputs?format=${format}`, { headers: { ...tenant, ...headers }, decompress: true } as RequestInit);

    test("before the first byte: an ordinary error envelope", async () => {
      failAt = 0;
      const res = await download("csv");
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("INTERNAL");
    });

    test("CSV after the first byte: the transfer breaks off (no chunked terminator), it never ends cleanly", async () => {
      failAt = 3;
      const res = await http.app.handle(new Request(`http://localhost/v1/scenarios/${scenarioId}/outputs?format=csv`, { headers: tenant }));
      expect(res.status).toBe(200);
      const got = await drain(res);
      expect(got.error).toBeDefined();
      expect(got.bytes).toBe(3 * chunk.length);
      // Over a socket: a reset, which may even overtake the headers; never a clean end.
      expect((await attempt(download("csv"))).error).toBeDefined();
    });

    test("NDJSON after the first byte: an error line, then the body errors", async () => {
      failAt = 2;
      const res = await http.app.handle(new Request(`http://localhost/v1/scenarios/${scenarioId}/outputs?format=ndjson`, { headers: tenant }));
      const got = await drain(res);
      expect(got.error).toBeDefined();
      expect(got.bytes).toBe(2 * chunk.length + got.text.trimEnd().split("\n").at(-1)!.length + 1);
      const last = got.text.trimEnd().split("\n").at(-1) as string;
      expect(JSON.parse(last)).toEqual({ error: { code: "INTERNAL", message: "the export failed before its end; this file is incomplete", request_id: expect.any(String) } });
      // Over a socket the reset may overtake that line; the transfer fails either way.
      expect((await attempt(download("ndjson"))).error).toBeDefined();
    });

    test("compressed: the stream breaks off before the end frame, so decompression fails too", async () => {
      failAt = 3;
      for (const encoding of ["gzip", "zstd"]) {
        const res = await http.app.handle(new Request(`http://localhost/v1/scenarios/${scenarioId}/outputs?format=csv`, { headers: { ...tenant, "accept-encoding": encoding } }));
        expect(res.headers.get("content-encoding")).toBe(encoding);
        expect((await drain(res)).error).toBeDefined();
        expect((await attempt(download("csv", { "accept-encoding": encoding }))).error).toBeDefined();
      }
    });
  });
}

describe("streaming from Postgres, the API in its own process", () => {
  const ROWS = 400_000;
  const MB = 1024 * 1024;
  let db: TestDb;
  let scenarioId: string;
  let api: ApiProcess;
  const download = (qs = "format=csv", init: RequestInit = {}) => fetch(`${api.base}/v1/scenarios/${scenarioId}/outputs?${qs}`, { ...init, headers: tenant });
  beforeAll(async () => {
    db = await createTestDb("postgres");
    // One tenant may take both slots here (the per-tenant share has its own test in test/security/export-slots.test.ts).
    api = await startApiProcess(db.url as string, { AURUM_API_OUTPUT_EXPORTS_MAX: "2", AURUM_API_OUTPUT_EXPORTS_PER_TENANT: "2" });
    scenarioId = (
      await (await fetch(`${api.base}/v1/scenarios`, { method: "POST", headers: { ...tenant, "content-type": "application/json" }, body: JSON.stringify({ name: "Big" }) })).json()
    ).data.id;
    await seedRun(db.sql, { tenantId: TENANT, scenarioId, rows: ROWS, curves: 400 });
    await (await download("format=csv&limit=200000")).arrayBuffer(); // warm-up: what a first export allocates once is not growth
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  test(`${ROWS.toLocaleString("en")} rows arrive whole: row count, value checksum, key order`, async () => {
    const res = await download();
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let rest = "";
    let lines = 0;
    let sum = 0;
    let previous = "";
    let ordered = true;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = rest + decoder.decode(value, { stream: true });
      const cut = text.lastIndexOf("\n");
      rest = text.slice(cut + 1);
      for (const line of text.slice(0, cut).split("\n")) {
        if (lines++ === 0) continue; // header
        const cells = line.split(",", 9);
        sum += Number(cells[8]);
        const key = `${cells[7]}\u0000${cells[3]}\u0000${cells[4]}\u0000${cells[5]}`;
        if (key <= previous) ordered = false;
        previous = key;
      }
    }
    expect({ rest, rows: lines - 1, sum, ordered }).toEqual({ rest: "", rows: ROWS, sum: (ROWS * (ROWS - 1)) / 2, ordered: true });
  }, 120_000);

  test("a client reading at 1 MB/s for 30 s does not grow the server's memory: backpressure reaches Postgres", async () => {
    const idle = api.rssBytes();
    const client = slowGet(api.base, `/v1/scenarios/${scenarioId}/outputs?format=csv`, tenant, MB);
    try {
      const { peak } = await peakRss(api.rssBytes, async () => {
        await Bun.sleep(30_000);
        // It read all along, at its own pace (the whole export is about 60 MB).
        expect(client.state.bytes / MB).toBeGreaterThan(15);
        expect(client.state.bytes / MB).toBeLessThan(34);
        // Postgres waits for us (nobody buffers the file): sampled, since between waits it reads
        // and encodes the next rows (on the CPU, or waiting for the disk).
        const waits: (string | null | undefined)[] = [];
        for (let i = 0; i < 10; i++) {
          waits.push((await copyBackends(db.sql))[0]?.wait_event);
          await Bun.sleep(100);
        }
        console.log(`the COPY backend's wait events, 10 samples over 1 s at 30 s: ${waits.join(" ")}`);
        expect(waits.filter((w) => w === "ClientWrite").length).toBeGreaterThanOrEqual(5);
      });
      expect((peak - idle) / MB).toBeLessThan(64);
    } finally {
      client.close();
    }
  }, 120_000);

  test("a client that goes away after 1 MB ends the Postgres query within 2 s", async () => {
    const abort = new AbortController();
    const res = await download("format=csv", { signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = 0;
    while (bytes < MB) bytes += ((await reader.read()).value as Uint8Array).length;
    expect(await copyBackends(db.sql)).toHaveLength(1);
    abort.abort();
    await reader.cancel().catch(() => {});
    await eventually(async () => (await copyBackends(db.sql)).length === 0, { what: "the COPY to end after the client left", timeoutMs: 10_000, intervalMs: 20 });
  });

  test("a COPY that dies mid-stream breaks the transfer off", async () => {
    const res = await download();
    let killed: Promise<number> | undefined;
    const got = await drain(res, (bytes) => {
      if (bytes > MB)
        killed ??= db.sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'copy (%' and pid <> pg_backend_pid()`.then(
          (r) => r.length,
        );
    });
    expect(await killed).toBe(1);
    expect(got.error).toBeDefined();
  });

  test("exports beyond AURUM_API_OUTPUT_EXPORTS_MAX get 429 with Retry-After; a finished one frees its slot", async () => {
    const aborts = [new AbortController(), new AbortController()];
    const open = await Promise.all(aborts.map((a) => download("format=ndjson", { signal: a.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const refused = await download("format=csv");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
    expect((await download("limit=5")).status).toBe(200); // JSON pages are not exports
    for (const [i, a] of aborts.entries()) {
      a.abort();
      await open[i]?.body?.cancel().catch(() => {});
    }
    // The aborted downloads' slots are freed as their streams wind down.
    const again = await eventually(
      async () => {
        const res = await download("format=csv&limit=10");
        return res.status !== 429 && res;
      },
      { what: "a free download slot" },
    );
    expect(again.status).toBe(200);
    expect((await again.text()).trim().split("\n")).toHaveLength(11);
  });
});
