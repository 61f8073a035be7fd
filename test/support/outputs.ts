/** Output fixtures: runs and scenario_output rows made with SQL (generate_series), and the API in a child process. */
import { parseString } from "fast-csv";
import { type Sql, transactions } from "../../src/adapters/postgres";
import { type OutputWriter, writeRun } from "../../src/outputs/store";
import { syntheticBatches } from "./output-batches";
import { type ServiceProcess, startService } from "./service";

export const METRICS = ["NPV", "baseline", "mid", "policy_uplift", "uplift"];

export type SeedOptions = {
  tenantId: string;
  scenarioId: string;
  rows: number;
  state?: string;
  asof?: string;
  /** When the run finished; later = the default run of /outputs. */
  finishedAt?: string;
  curves?: number;
  /** Added to each row's value (row i has value i + offset, an integer, so sums are exact checksums). */
  offset?: number;
  /** Text for curve keys instead of `C000`; `%s` is replaced by the curve number. */
  curvePattern?: string;
};

/**
 * Inserts a run and its rows. Row i: metric METRICS[i % 5], curve (i / 5) % curves, then a tenor
 * and contract month that advance every 5 × curves rows, tenor types cycling MONTHLY, QUARTER,
 * CALENDAR; value i + offset, bands ±1, attribution on two rows of three.
 *
 * The rows go in as the output writer writes a run's rows (src/outputs/export-order.ts): in the
 * order of the primary key, metric, curve, tenor type, contract month (METRICS and the curve
 * numbers are in that order already; tenor types sort CALENDAR, MONTHLY, QUARTER). So an export
 * here reads the heap as it does in production, and the inserts append to the index instead of
 * splitting pages all over it. Each LATERAL step refers to the one before it, which makes the
 * nested loops run in that order.
 */
/** From this many rows on, a seed loads the table bare and builds its indexes after (bulk). */
const BULK_ROWS = 500_000;

/**
 * Runs `load` on scenario_output without its indexes, then builds them again from their own
 * definitions (the primary key included): one sort per index instead of an index insert per row,
 * about 30 % less time for a million rows. One transaction, so a failure leaves the table as it was.
 */
async function bulk(sql: Sql, load: (tx: Sql) => Promise<unknown>): Promise<void> {
  await sql.begin(async (tx) => {
    const constraints = await tx<{ name: string; def: string }[]>`
      select conname as name, pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'scenario_output'::regclass and contype in ('p', 'u')`;
    const indexes = await tx<{ name: string; def: string }[]>`
      select indexname as name, indexdef as def from pg_indexes
      where schemaname = current_schema() and tablename = 'scenario_output' and indexname not in (select conname from pg_constraint where conrelid = 'scenario_output'::regclass)`;
    for (const c of constraints) await tx.unsafe(`alter table scenario_output drop constraint "${c.name}"`);
    for (const i of indexes) await tx.unsafe(`drop index "${i.name}"`);
    await load(tx as unknown as Sql);
    await tx`set local maintenance_work_mem = '256MB'`;
    for (const c of constraints) await tx.unsafe(`alter table scenario_output add constraint "${c.name}" ${c.def}`);
    for (const i of indexes) await tx.unsafe(i.def);
  });
}

export async function seedRun(sql: Sql, o: SeedOptions): Promise<string> {
  const [run] = await sql<{ id: string }[]>`
    insert into scenario_run (scenario_id, tenant_id, state, input_hash, run_key, finished_at)
    values (${o.scenarioId}, ${o.tenantId}, ${o.state ?? "SUCCEEDED"}, ${crypto.randomUUID()}, 'fixture', ${o.finishedAt ?? new Date().toISOString()}::timestamptz)
    returning id::text as id`;
  const runId = (run as { id: string }).id;
  const curves = o.curves ?? 7;
  const pattern = o.curvePattern ?? "C%s";
  const periods = Math.ceil(o.rows / (5 * curves));
  if (o.rows === 0) return runId;
  const insert = (tx: Sql) => tx`
      insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric,
                                   value, band_lower, band_upper, attribution, version_hash, computed_ts)
      select ${o.tenantId}, ${o.scenarioId}::uuid, ${runId}::uuid, ${o.asof ?? "2026-01-02"}::date,
             replace(${pattern}, '%s', lpad(c::text, 3, '0')),
             (array['MONTHLY', 'QUARTER', 'CALENDAR'])[1 + p % 3],
             date '2026-01-01' + make_interval(months => p),
             to_char(date '2026-01-01' + make_interval(months => p), 'YYYY-MM'),
             (${METRICS}::text[])[1 + m],
             i + ${o.offset ?? 0}, i + ${o.offset ?? 0} - 1, i + ${o.offset ?? 0} + 1,
             case when i % 3 = 0 then null else jsonb_build_object('policy:0', i % 1000, 'load_growth:1', 0.25) end,
             'vh-' || ${runId}::text, clock_timestamp()
      from generate_series(0, 4) m
      cross join lateral generate_series(0, ${curves - 1}::int + 0 * m) c
      cross join lateral unnest(array[2 + 0 * c, 0, 1]) t(r)
      cross join lateral generate_series(r, ${periods - 1}::int, 3) p
      cross join lateral (select ((p * ${curves}::bigint + c) * 5 + m) as i) x
      where i < ${o.rows}`;
  if (o.rows < BULK_ROWS) await insert(sql);
  else await bulk(sql, insert);
  return runId;
}

/**
 * A run of `rows` synthetic rows (output-batches.ts) written through `writer` as a worker writes
 * one, so they lie where a real run's do (export order): RUNNING while it is written (a purge pass
 * drops the staging tables of runs that are not: a crashed worker's), then SUCCEEDED with its row
 * count in the commit that publishes the rows. The run's id.
 */
export async function writeSyntheticRun(sql: Sql, writer: OutputWriter, o: { tenantId: string; scenarioId: string; rows: number }): Promise<string> {
  const runId = await seedRun(sql, { tenantId: o.tenantId, scenarioId: o.scenarioId, rows: 0, state: "RUNNING" });
  const meta = { tenantId: o.tenantId, scenarioId: o.scenarioId, runId, asofDate: "2026-01-02", versionHash: "bench", computedTs: new Date().toISOString() };
  await writeRun(writer, transactions(sql), meta, syntheticBatches(o.rows), async (tx) => {
    await tx`update scenario_run set state = 'SUCCEEDED', finished_at = now(), rows_written = ${o.rows} where id = ${runId}`;
  });
  return runId;
}

/**
 * A run of hand-made rows for the compare baseline rule (docs/compare.md): prices, driver effects,
 * an unknown metric, a zero and a negative baseline, a mid without baseline, non-finite values.
 * One as-of date and contract month; curves P1..P5.
 */
export async function seedBaselineRules(sql: Sql, tenantId: string, scenarioId: string): Promise<string> {
  const runId = await seedRun(sql, { tenantId, scenarioId, rows: 0 });
  const rows: [string, string, number][] = [
    ["P1", "baseline", 40],
    ["P1", "mid", 50],
    ["P1", "uplift", 10],
    ["P1", "policy_uplift", 4],
    ["P1", "NPV", 1234.5],
    ["P1", "rec_cost", 3],
    ["P1", "npv_per_bp", -2],
    ["P1", "carbon_uplift", 1.5],
    ["P1", "mid_per_gas", 7.25],
    ["P2", "baseline", 0],
    ["P2", "mid", 2],
    ["P3", "baseline", -10],
    ["P3", "mid", -5],
    ["P4", "mid", 60],
    ["P5", "baseline", Number.NaN],
    ["P5", "mid", Number.POSITIVE_INFINITY],
  ];
  for (const [curve, metric, value] of rows) {
    await sql`
      insert into scenario_output (tenant_id, scenario_id, run_id, asof_date, curve_key, tenor_type, contract_month, tenor_label, metric, value, version_hash, computed_ts)
      values (${tenantId}, ${scenarioId}, ${runId}, '2026-01-02', ${curve}, 'MONTHLY', '2027-01-01', '2027-01', ${metric}, ${value}::float8, 'vh', now())`;
  }
  return runId;
}

export type ApiProcess = ServiceProcess;

/** The Postgres writer's staging tables (src/outputs/pg-store.ts) in the database, by name; of one run only when `runId` is given. */
export async function stagingTables(sql: Sql, runId?: string): Promise<string[]> {
  const prefix = `scenario\\_output\\_stage\\_${runId ? runId.replaceAll("-", "") : ""}%`;
  const rows = await sql<{ name: string }[]>`select relname as name from pg_class where relkind = 'r' and relname like ${prefix} order by 1`;
  return rows.map((r) => r.name);
}

/** Samples a process's RSS every 20 ms while `work` runs; returns the peak. */
export async function peakRss<T>(rss: () => number, work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 20);
  try {
    return { result: await work(), peak };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The API as production runs it (`bun src/main.ts api`, or `start` with its worker) in a child process on `databaseUrl`, so its
 * memory can be measured apart from the client's. Resolves once it listens.
 */
export function startApiProcess(databaseUrl: string, env: Record<string, string> = {}, verb: "api" | "start" = "api"): Promise<ApiProcess> {
  return startService(verb, { ...process.env, AURUM_APP_DB_DSN: databaseUrl, AURUM_API_AUTH_DISABLED: "1", ...env });
}

/** An export's chunks as one string (UTF-8 split across chunks decoded whole). */
export async function exportText(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  let out = "";
  const decoder = new TextDecoder();
  for await (const c of chunks) out += decoder.decode(c, { stream: true });
  return out + decoder.decode();
}

/** A CSV download as rows keyed by its header (fast-csv: an independent RFC 4180 reader). */
export async function parseCsv(text: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, string>[] = [];
    parseString(text, { headers: true })
      .on("data", (row) => rows.push(row))
      .on("error", reject)
      .on("end", () => resolve(rows));
  });
}
