// Real Trino + Iceberg (JDBC catalog in PostgreSQL, local-disk warehouse): 100,000 rows into
// iceberg.market.scenario_output for a unique scenario_id, read back, partitions checked, rows
// deleted. Needs `bash deploy/local/services.sh up` (or AURUM_TRINO_*); skips without it,
// fails without it when CI=true.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { requireService, serviceEnv } from "../support/services";

const trino = await requireService("trino");
const env = serviceEnv();

const ROWS = 100_000;
const METRICS = ["mid", "p05", "p95"];
const DAYS = 5;
const scenarioId = `it-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const DDL_FILE = join(import.meta.dir, "..", "..", "trino", "ddl", "iceberg_market.sql");

interface TrinoResponse {
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  error?: { message: string; errorName?: string; errorCode?: number };
}

/** Minimal Trino client protocol v1: POST /v1/statement, follow nextUri, raise `error`. */
async function query(sql: string): Promise<Record<string, unknown>[]> {
  const base = (env.AURUM_TRINO_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
  const headers: Record<string, string> = {
    "X-Trino-User": env.AURUM_TRINO_USER ?? "aurum",
    "X-Trino-Catalog": env.AURUM_TRINO_CATALOG ?? "iceberg",
    "X-Trino-Schema": env.AURUM_TRINO_SCHEMA ?? "market",
  };
  let res = await fetch(`${base}/v1/statement`, {
    method: "POST",
    headers,
    body: sql,
  });
  let columns: string[] | undefined;
  const rows: unknown[][] = [];
  for (;;) {
    if (res.status === 502 || res.status === 503 || res.status === 504) {
      await Bun.sleep(50); // protocol: retry the same URI
    } else {
      if (!res.ok) throw new Error(`Trino HTTP ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as TrinoResponse;
      if (body.error) throw new Error(`Trino ${body.error.errorName}: ${body.error.message}\n  in: ${sql}`);
      if (body.columns) columns ??= body.columns.map((c) => c.name);
      if (body.data) rows.push(...body.data);
      if (!body.nextUri) break;
      res = await fetch(body.nextUri, { headers });
      continue;
    }
    res = await fetch(res.url, { headers });
  }
  return rows.map((r) => Object.fromEntries((columns ?? []).map((c, i) => [c, r[i]])));
}

describe.skipIf(!trino.available)("trino iceberg (real server)", () => {
  test("writes 100,000 rows to iceberg.market.scenario_output, reads them back, partitions exist", async () => {
    try {
      await writeReadDelete();
    } finally {
      // no-op when the test already deleted its rows; cleans up after a failed assertion
      await query(`DELETE FROM scenario_output WHERE scenario_id = '${scenarioId}'`).catch(() => {});
    }
  }, 120_000);
});

async function writeReadDelete(): Promise<void> {
  // The table comes from trino/ddl/iceberg_market.sql (idempotent); apply it in case it is missing.
  const ddl = (await Bun.file(DDL_FILE).text())
    .split("\n")
    .map((l) => l.replace(/--.*$/, ""))
    .join("\n");
  for (const statement of ddl
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    await query(statement);
  }

  const metricsArray = `ARRAY[${METRICS.map((m) => `'${m}'`).join(", ")}]`;
  const inserted = await query(`
        INSERT INTO scenario_output
        SELECT
          'tenant-it'                                                   AS tenant_id,
          '${scenarioId}'                                               AS scenario_id,
          'run-1'                                                       AS run_id,
          date_add('day', i % ${DAYS}, DATE '2025-01-01')               AS asof_date,
          'curve-' || CAST(i % 20 AS varchar)                           AS curve_key,
          'MONTHLY'                                                     AS tenor_type,
          date_add('month', i % 24, DATE '2025-02-01')                  AS contract_month,
          'M' || CAST(i % 24 AS varchar)                                AS tenor_label,
          element_at(${metricsArray}, 1 + (i % ${METRICS.length}))      AS metric,
          CAST(i AS double) / 2                                         AS value,
          CAST(i AS double) / 2 - 1                                     AS band_lower,
          CAST(i AS double) / 2 + 1                                     AS band_upper,
          '{"driver":"load","weight":' || CAST(i % 10 AS varchar) || '}' AS attribution,
          'vh-1'                                                        AS version_hash,
          TIMESTAMP '2025-01-01 00:00:00.000000 UTC'                    AS computed_ts,
          'w-1'                                                         AS write_id
        FROM (
          -- sequence() is capped at 10,000 entries: i = 1..ROWS from hundreds x thousands
          SELECT h * 1000 + u AS i
          FROM UNNEST(sequence(0, ${ROWS / 1000 - 1})) AS hs(h)
          CROSS JOIN UNNEST(sequence(1, 1000)) AS us(u)
        )`);
  expect(Number(inserted[0]?.rows)).toBe(ROWS);

  const [agg] = await query(`
        SELECT count(*) AS n, sum(value) AS total, count(DISTINCT metric) AS metrics,
               CAST(min(asof_date) AS varchar) AS first_day, CAST(max(asof_date) AS varchar) AS last_day,
               count(DISTINCT curve_key) AS curves,
               max(json_extract_scalar(attribution, '$.weight')) AS max_weight
        FROM scenario_output WHERE scenario_id = '${scenarioId}'`);
  expect(Number(agg?.n)).toBe(ROWS);
  expect(Number(agg?.total)).toBe((ROWS * (ROWS + 1)) / 4); // sum(i)/2
  expect(Number(agg?.metrics)).toBe(METRICS.length);
  expect(agg?.first_day).toBe("2025-01-01");
  expect(agg?.last_day).toBe("2025-01-05");
  expect(Number(agg?.curves)).toBe(20);
  expect(agg?.max_weight).toBe("9");

  const perMetric = await query(`
        SELECT metric, count(*) AS n FROM scenario_output
        WHERE scenario_id = '${scenarioId}' GROUP BY metric ORDER BY metric`);
  expect(perMetric.map((r) => r.metric)).toEqual([...METRICS].sort());
  expect(perMetric.reduce((s, r) => s + Number(r.n), 0)).toBe(ROWS);

  // Iceberg partitions: scenario_id x metric x day(asof_date)
  const [parts] = await query(`
        SELECT count(*) AS partitions, sum(record_count) AS records
        FROM "scenario_output$partitions" WHERE partition.scenario_id = '${scenarioId}'`);
  expect(Number(parts?.partitions)).toBe(METRICS.length * DAYS);
  expect(Number(parts?.records)).toBe(ROWS);

  // Clean up (the caller deletes again if an assertion above failed).
  await query(`DELETE FROM scenario_output WHERE scenario_id = '${scenarioId}'`);
  const [left] = await query(`SELECT count(*) AS n FROM scenario_output WHERE scenario_id = '${scenarioId}'`);
  expect(Number(left?.n)).toBe(0);
}
