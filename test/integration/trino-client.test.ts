// The Trino client against a real Trino: pages pulled one at a time, errors raised with the query
// id, cancellation (abort, or leaving the loop) ends the query on the server, 502/503/504 retried
// and nothing else, one metrics event per query, literals read back exactly.
// Needs `bash deploy/local/services.sh up`; skips without it (fails with CI=true).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTrinoClient, type TrinoClient, type TrinoConfig, TrinoError } from "../../src/adapters/trino";
import { dateLiteral, doubleLiteral, timestampTzLiteral, varcharLiteral } from "../../src/adapters/trino-literals";
import { createLogger } from "../../src/platform/logger";
import { eventually } from "../support/eventually";
import { requireService, serviceEnv } from "../support/services";

const service = await requireService("trino");
const env = serviceEnv();
const TRINO_URL = (env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");

function client(extra: Partial<TrinoConfig> = {}): TrinoClient {
  return createTrinoClient({ url: TRINO_URL, user: env.AURUM_TRINO_USER ?? "aurum", source: "aurum-tests", ...extra });
}

/** Query state and error code in system.runtime.queries for the query whose text contains `marker`. */
async function serverState(marker: string): Promise<{ state: string; error_code: string | null } | undefined> {
  const { rows } = await client().execute(
    `SELECT state, error_code FROM system.runtime.queries WHERE query LIKE ${varcharLiteral(`%${marker}%`)} AND query NOT LIKE '%system.runtime.queries%'`,
  );
  const row = rows[0];
  return row ? { state: row[0] as string, error_code: row[1] as string | null } : undefined;
}

/** The server's state of the query tagged `marker` once `want` holds (a failure names the last state). */
const queryState = (marker: string, want: (s: { state: string; error_code: string | null }) => boolean, what: string) =>
  eventually(
    async () => {
      const s = await serverState(marker);
      if (!s || !want(s)) throw new Error(`query ${marker} is ${s ? JSON.stringify(s) : "not listed"}`);
      return s;
    },
    { what, timeoutMs: 20_000, intervalMs: 100 },
  );
const ended = (s: { state: string }) => s.state === "FINISHED" || s.state === "FAILED";

/** A query that runs for minutes unless cancelled (10^10 rows counted). */
const slowQuery = (marker: string) =>
  `SELECT count(*) AS n, '${marker}' FROM UNNEST(sequence(1, 10000)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y) CROSS JOIN UNNEST(sequence(1, 100)) c(z)`;

describe.skipIf(!service.available)("trino client (real server)", () => {
  test("session properties: a query's own over the client's; the next query without them has the server's defaults", async () => {
    const c = client({ session: { query_max_run_time: "10m" } });
    const value = async (name: string, session?: Record<string, string>) => (await c.execute(`SHOW SESSION LIKE ${varcharLiteral(name)}`, session ? { session } : {})).rows[0]?.[1];
    const own = { "iceberg.collect_extended_statistics_on_write": "false", query_max_run_time: "5m" };
    expect(await value("iceberg.collect_extended_statistics_on_write", own)).toBe("false");
    expect(await value("query_max_run_time", own)).toBe("5m");
    expect(await value("query_max_run_time", { "iceberg.collect_extended_statistics_on_write": "false" })).toBe("10m");
    expect(await value("iceberg.collect_extended_statistics_on_write")).toBe("true");
    expect(await value("query_max_run_time")).toBe("10m");
  });

  test("follows nextUri page by page: 300,000 rows arrive in several pages with their columns", async () => {
    const pages: number[] = [];
    let total = 0;
    let sum = 0;
    for await (const page of client().query("SELECT x * 100000 + y AS v, 'r' AS label FROM UNNEST(sequence(1, 30)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y)")) {
      expect(page.columns).toEqual([
        { name: "v", type: "bigint" },
        { name: "label", type: "varchar(1)" },
      ]);
      expect(page.queryId).toMatch(/^\d{8}_\d{6}_\d{5}_\w+$/);
      pages.push(page.rows.length);
      total += page.rows.length;
      for (const r of page.rows) sum += r[0] as number;
    }
    expect(pages.length).toBeGreaterThan(1);
    expect(total).toBe(300_000);
    expect(sum).toBe(10_000 * 100_000 * ((30 * 31) / 2) + 30 * ((10_000 * 10_001) / 2));
  }, 120_000);

  test("pulls the next page only when the consumer asks for it", async () => {
    let gets = 0;
    const counting = client({
      fetch: (input, init) => {
        if (init.method === "GET") gets++;
        return fetch(input, init);
      },
    });
    const it = counting.query("SELECT x, y FROM UNNEST(sequence(1, 30)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y)");
    const first = await it.next();
    expect(first.done).toBe(false);
    const afterFirst = gets;
    await Bun.sleep(1500); // a client reading ahead would fetch more meanwhile
    expect(gets).toBe(afterFirst);
    await it.return(undefined as never); // leaving early cancels
  }, 120_000);

  test("an error in a page is thrown as a TrinoError with the query id, name, code and type", async () => {
    const err = await client()
      .execute("SELECT * FROM iceberg.market.no_such_table")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrinoError);
    const e = err as TrinoError;
    expect(e.errorName).toBe("TABLE_NOT_FOUND");
    expect(e.errorType).toBe("USER_ERROR");
    expect(e.errorCode).toBeNumber();
    expect(e.queryId).toMatch(/^\d{8}_\d{6}_\d{5}_\w+$/);
    expect(e.message).toContain(e.queryId as string);
    expect(e.retryable).toBe(false);

    const runtime = await client()
      .execute("SELECT 1 / (x - 3) FROM UNNEST(sequence(1, 5)) t(x)")
      .catch((e2: unknown) => e2);
    expect((runtime as TrinoError).errorName).toBe("DIVISION_BY_ZERO");
  });

  test("abort cancels the query on the server: USER_CANCELED, not minutes later when it would finish", async () => {
    const marker = `abort-${crypto.randomUUID()}`;
    const controller = new AbortController();
    const running = client().execute(slowQuery(marker), { signal: controller.signal });
    await queryState(marker, (s) => s.state === "RUNNING", "the slow query to run");
    controller.abort(new Error("client went away"));
    await expect(running).rejects.toThrow("client went away");
    expect(await queryState(marker, ended, "the aborted query to end")).toEqual({ state: "FAILED", error_code: "USER_CANCELED" });
  }, 120_000);

  test("a consumer that leaves the loop early cancels the query", async () => {
    const marker = `leave-${crypto.randomUUID()}`;
    for await (const page of client().query(`SELECT x, y, '${marker}' FROM UNNEST(sequence(1, 10000)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y)`)) {
      expect(page.rows.length).toBeGreaterThan(0);
      break;
    }
    expect(await queryState(marker, ended, "the left query to end")).toEqual({ state: "FAILED", error_code: "USER_CANCELED" });
  }, 120_000);

  test("each query logs one trino_query_metrics event with query id, tenant, rows, bytes and times", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger("info", (l) => lines.push(JSON.parse(l)));
    const c = client({ log });
    const result = await c.execute("SELECT x FROM UNNEST(sequence(1, 1000)) t(x)", { tenantId: "tenant-a" });
    await c.execute("SELECT * FROM no_such_catalog.s.t").catch(() => {});
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ event: "trino_query_metrics", query_id: result.queryId, tenant_id: "tenant-a", state: "FINISHED", rows: 1000 });
    for (const key of ["processed_rows", "processed_bytes", "queued_ms", "elapsed_ms", "cpu_ms"]) expect(lines[0]?.[key]).toBeNumber();
    expect(lines[1]).toMatchObject({ event: "trino_query_metrics", state: "FAILED", error_name: "CATALOG_NOT_FOUND" });
  });

  test("literals come back from Trino exactly: doubles to the bit, text, dates, microsecond timestamps", async () => {
    const doubles = [0.1, 1 / 3, -123456.789012345, 1e-300, 5e-324, Number.MAX_VALUE, 1e21, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const texts = ["it's", "a\\b", "tab\there", "new\nline", "\u0000nul", "ünïcødé ⚡ 😀", "''", "-- not a comment", "/* nor this */"];
    const { rows } = await client().execute(
      `SELECT ${[...doubles.map(doubleLiteral), ...texts.map(varcharLiteral), dateLiteral("2024-02-29"), timestampTzLiteral("2026-01-02T03:04:05.123456Z")].join(", ")}`,
    );
    const row = rows[0] as unknown[];
    const back = row.slice(0, doubles.length).map((v) => (typeof v === "string" ? Number(v) : v));
    expect(back.map((v, i) => Object.is(v, doubles[i]))).toEqual(doubles.map(() => true));
    expect(row.slice(doubles.length, doubles.length + texts.length)).toEqual(texts);
    expect(row.slice(-2)).toEqual(["2024-02-29", "2026-01-02 03:04:05.123456 UTC"]);
  });
});

describe.skipIf(!service.available)("trino client retries (through a proxy that fails on purpose)", () => {
  let proxy: ReturnType<typeof Bun.serve>;
  /** Statuses to answer instead of forwarding, consumed one per request. */
  let failures: number[] = [];
  const seen: { method: string; status: number }[] = [];

  beforeAll(() => {
    proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        const injected = failures.shift();
        if (injected) {
          seen.push({ method: req.method, status: injected });
          return new Response("injected", { status: injected });
        }
        const body = req.method === "POST" ? await req.text() : undefined;
        const res = await fetch(`${TRINO_URL}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, ...(body !== undefined ? { body } : {}) });
        seen.push({ method: req.method, status: res.status });
        // nextUri points at Trino; send the client back through the proxy
        const text = (await res.text()).replaceAll(TRINO_URL, `http://127.0.0.1:${proxy.port}`);
        return new Response(text, { status: res.status, headers: { "content-type": res.headers.get("content-type") ?? "application/json" } });
      },
    });
  });
  afterAll(() => {
    proxy?.stop(true);
  });
  const viaProxy = () => client({ url: `http://127.0.0.1:${proxy.port}`, retryBaseMs: 10 });

  test("502, 503 and 504 are retried, on the POST and on nextUri alike", async () => {
    seen.length = 0;
    failures = [503, 502, 0, 504]; // the POST twice, then (0: passed through) the first nextUri
    const rows = (await viaProxy().execute("SELECT x FROM UNNEST(sequence(1, 10)) t(x)")).rows;
    expect(rows).toHaveLength(10);
    expect(seen.slice(0, 3)).toEqual([
      { method: "POST", status: 503 },
      { method: "POST", status: 502 },
      { method: "POST", status: 200 },
    ]);
    expect(seen[3]).toEqual({ method: "GET", status: 504 });
    expect(seen[4]).toEqual({ method: "GET", status: 200 });
  });

  test("any other status fails at once, without a retry", async () => {
    for (const status of [500, 429, 404]) {
      seen.length = 0;
      failures = [status];
      const err = await viaProxy()
        .execute("SELECT 1")
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrinoError);
      expect((err as TrinoError).errorName).toBe(`HTTP_${status}`);
      expect(seen).toEqual([{ method: "POST", status }]);
    }
  });

  test("gives up after the configured number of retries", async () => {
    seen.length = 0;
    failures = [503, 503, 503];
    const err = await createTrinoClient({ url: `http://127.0.0.1:${proxy.port}`, user: "aurum", source: "aurum-tests", retries: 2, retryBaseMs: 1 })
      .execute("SELECT 1")
      .catch((e: unknown) => e);
    expect((err as TrinoError).errorName).toBe("HTTP_503");
    expect(seen).toHaveLength(3);
    failures = [];
  });
});
