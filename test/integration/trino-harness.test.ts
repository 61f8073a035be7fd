/**
 * `make trino-harness-metrics` (the user's guide): the Makefile target runs bench/trino-harness.ts
 * against the real Trino, prints p50/p95 per query kind and stores them in `ops_metrics` of the
 * database it is given. Negative: with Trino unreachable it exits 3 and says so, storing nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createTestDb, type TestDb } from "../support/app";
import { requireService, serviceEnv } from "../support/services";

const trino = await requireService("trino");
const ROOT = join(import.meta.dir, "../..");
const KINDS = ["page", "page_metric", "latest", "latest_by_metric", "export_csv"];

describe.skipIf(!trino.available)("make trino-harness-metrics", () => {
  let metrics: TestDb;
  beforeAll(async () => {
    metrics = await createTestDb("postgres");
  });
  afterAll(async () => {
    await metrics?.drop();
  });
  const make = async (extraEnv: Record<string, string>, ...vars: string[]) => {
    const proc = Bun.spawn(["make", "-s", "trino-harness-metrics", ...vars], { cwd: ROOT, env: { ...process.env, ...serviceEnv(), ...extraEnv }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out: stdout + stderr };
  };

  test("times each query kind through Trino and writes p50, p95 and Trino's own p95 to ops_metrics", async () => {
    const r = await make({}, "ROWS=500", "ITERATIONS=2", `METRICS_DSN=${metrics.url}`);
    expect({ code: r.code, tail: r.out.slice(-2000) }).toMatchObject({ code: 0 });
    expect(r.out).toContain("copied to iceberg.market.scenario_output (1000 rows)");
    for (const kind of KINDS) expect(r.out).toMatch(new RegExp(`^${kind}\\s+\\d+\\.\\d\\s+\\d+\\.\\d`, "m"));
    const rows = await metrics.sql<{ metric: string; value: number; unit: string; source: string; rows: string }[]>`
      select metric, value, unit, source, labels->>'rows' as rows from ops_metrics order by metric`;
    expect(rows.map((x) => x.metric).sort()).toEqual(KINDS.flatMap((k) => [`trino.${k}.p50`, `trino.${k}.p95`, `trino.${k}.server_p95`]).sort());
    for (const x of rows) expect(x).toMatchObject({ unit: "ms", source: "trino-harness", rows: "500" });
    expect(rows.every((x) => x.value > 0)).toBe(true);
  }, 120_000);

  test("with Trino unreachable it exits 3 naming the problem, and stores nothing (negative case)", async () => {
    const before = (await metrics.sql`select count(*)::int as n from ops_metrics`)[0]?.n;
    const r = await make({ AURUM_TRINO_URL: "http://127.0.0.1:9", CI: "" }, "ROWS=10", "ITERATIONS=1", `METRICS_DSN=${metrics.url}`);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("trino-harness: Trino is not reachable");
    expect((await metrics.sql`select count(*)::int as n from ops_metrics`)[0]?.n).toBe(before);
  }, 120_000);
});
