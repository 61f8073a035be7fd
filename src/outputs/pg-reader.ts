/**
 * Postgres output store, read side (`scenario_output`). Pages and the latest-value rollup are
 * plain keyset queries on the pool. Exports take the fastest correct path per store:
 * - a real server: `COPY (SELECT ...) TO STDOUT` (CSV, or `row_to_json` lines for NDJSON) on a
 *   connection of its own, in ~64 KB chunks of whole rows: read by pg-copy.ts (the wire protocol
 *   spoken directly, flat memory), or by postgres.js when that cannot connect as the pool does;
 * - embedded PGlite: keyset pages of 5,000 rows through the JS encoders, releasing its single
 *   connection between pages so other requests still get through.
 * Measurements: docs/performance.md.
 */
import type { Readable } from "node:stream";
import type { TLSOptions } from "bun";
import postgres from "postgres";
import type { Sql } from "../adapters/postgres";
import { createPgCompareReader } from "./compare-pg";
import { encodeRows } from "./encoders";
import type { MetricSummaryRow } from "./metric-summary";
import { CopyOut, type CopyTarget, UnsupportedConnection } from "./pg-copy";
import type { ExportFormat, ExportRequest, OutputReader, RunFilter } from "./reader";
import { pagedRows } from "./reader";
import { LATEST_COLUMNS, type LatestRow, OUTPUT_COLUMNS, OUTPUT_TABLE, type OutputRow } from "./row";
import { KEY_ORDER, pgLiteral, pgParams, readColumns, where } from "./sql";

const WRITE_BYTES = 64 * 1024;
const ROW_COLUMNS = readColumns(pgParams(), OUTPUT_COLUMNS);

export type PgReaderOptions = {
  /** Use COPY for exports. Default: yes unless the server is PGlite (its socket serves one connection). */
  copy?: boolean;
  /**
   * Opens the dedicated postgres.js connection of one COPY export. Default: none, the export speaks
   * the wire protocol itself (pg-copy.ts) with the pool's settings, or falls back to postgres.js
   * with them (max 1) when it cannot (TLS options or an authentication method it does not speak).
   */
  connect?: () => Sql;
};

export function createPgOutputReader(sql: Sql, opts: PgReaderOptions = {}): OutputReader {
  let copy: Promise<boolean> | undefined = opts.copy === undefined ? undefined : Promise.resolve(opts.copy);
  const useCopy = () => (copy ??= sql`select version() as v`.then(([row]) => !/pglite/i.test(String(row?.v))));

  const reader: OutputReader = {
    async page(filter, limit, after) {
      const p = pgParams();
      return (await sql.unsafe(
        `select ${ROW_COLUMNS} from scenario_output where ${where(p, filter, after)} order by ${KEY_ORDER} limit ${limit | 0}`,
        p.values,
      )) as unknown as OutputRow[];
    },

    /**
     * The rollup of mart_scenario_output with the filters applied first. Each SUCCEEDED run
     * contributes its first `limit` keys after the cursor (a primary-key range scan); every key of
     * the page is among them, with all its rows, so only runs × limit rows are sorted per page.
     */
    async latest(filter, limit, after) {
      const p = pgParams();
      const conditions = where(p, filter, after, "o.");
      const n = limit | 0;
      return (await sql.unsafe(
        `select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month) ${readColumns(p, LATEST_COLUMNS, "o.")}
         from scenario_run r
         cross join lateral (select * from scenario_output o where o.run_id = r.id and ${conditions} order by ${KEY_ORDER} limit ${n}) o
         where r.scenario_id = ${p.bind(filter.scenarioId, "uuid")} and r.state = 'SUCCEEDED'
         order by o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc
         limit ${n}`,
        p.values,
      )) as unknown as LatestRow[];
    },

    /** The same rollup, summarised per metric (metric-summary.ts); NaN and ±Infinity counted apart. */
    async latestByMetric(filter, limit, afterMetric) {
      const p = pgParams();
      const conditions = where(p, filter, undefined, "o.") + (afterMetric !== undefined ? ` and o.metric > ${p.bind(afterMetric, "text")}` : "");
      return (await sql.unsafe(
        `with latest as (
           select distinct on (o.metric, o.curve_key, o.tenor_type, o.contract_month) o.metric, o.value, o.asof_date, o.run_id,
             o.value not in ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) as finite
           from scenario_run r
           cross join lateral (select * from scenario_output o where o.run_id = r.id and ${conditions}) o
           where r.scenario_id = ${p.bind(filter.scenarioId, "uuid")} and r.state = 'SUCCEEDED'
           order by o.metric, o.curve_key, o.tenor_type, o.contract_month, o.asof_date desc, o.computed_ts desc, o.run_id desc)
         select metric, count(*)::int as count, min(value) filter (where finite) as min, max(value) filter (where finite) as max,
           avg(value) filter (where finite) as mean, (count(*) filter (where not finite))::int as non_finite,
           to_char(max(asof_date), 'YYYY-MM-DD') as latest_asof_date, count(distinct run_id)::int as run_ids
         from latest group by metric order by metric limit ${limit | 0}`,
        p.values,
      )) as unknown as MetricSummaryRow[];
    },

    export(filter, request) {
      return (async function* () {
        if (await useCopy()) yield* copyOut(sql, opts.connect, copyStatement(filter, request), request.signal);
        else yield* encodeRows(pagedRows(reader, filter, request), request.format, request.escapeFormulas);
      })();
    },

    compare: createPgCompareReader(sql, { useCopy, connect: opts.connect }),
  };
  return reader;
}

/** COPY takes no parameters: values go in as escaped literals. */
export function inline(text: string, params: string[]): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => pgLiteral(params[Number(n) - 1] as string));
}

/** A text column as CSV with formula escaping writes it: a leading `'` when it starts with = + - @ tab or CR. */
export const formulaGuard = (col: string) => `case when left(${col}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${col} else ${col} end`;

/** `select` as a COPY TO STDOUT in the export format. */
export function copyTo(select: string, format: ExportFormat): string {
  // NDJSON: CSV mode with quote and delimiter bytes that JSON text never contains, so lines pass through unescaped.
  return format === "csv"
    ? `copy (${select}) to stdout with (format csv, header)`
    : `copy (select row_to_json(t) from (${select}) t) to stdout with (format csv, quote E'\\x01', delimiter E'\\x02')`;
}

/** The statement an export runs (bench/outputs.ts hands the same text to psql). COPY spells ids and dates as text itself. */
export function copyStatement(f: RunFilter, req: Omit<ExportRequest, "signal">): string {
  const p = pgParams();
  const guarded = req.format === "csv" && req.escapeFormulas;
  const columns = OUTPUT_COLUMNS.map((col) => (guarded && OUTPUT_TABLE[col].kind === "text" ? `${formulaGuard(col)} as ${col}` : col)).join(", ");
  const select = `select ${columns} from scenario_output where ${where(p, f, req.after)} order by ${KEY_ORDER}${req.limit ? ` limit ${req.limit | 0}` : ""}`;
  return copyTo(inline(select, p.values), req.format);
}

/** A connection of its own: a pooled one mid-COPY can be handed other queries by postgres.js, which then wait behind it. */
function exportConnection(sql: Sql): Sql {
  const o = sql.options as unknown as postgres.Options<Record<string, never>> & { host: string[]; port: number[] };
  return postgres({
    host: o.host as unknown as string, // postgres.js takes its parsed host/port lists back as they are
    port: o.port as unknown as number,
    ...(o.path ? { path: o.path } : {}),
    database: o.database,
    user: o.user,
    pass: o.pass,
    ssl: o.ssl,
    max: 1,
    fetch_types: false,
    connect_timeout: o.connect_timeout,
    onnotice: () => {},
    // Dates and doubles spelled the same whatever the server's defaults are.
    connection: { ...o.connection, DateStyle: "ISO", extra_float_digits: 1 },
  });
}

/**
 * Streams a COPY TO STDOUT. Through pg-copy.ts when it can: pooled chunks of whole rows and
 * nothing allocated per row (see there why); else through postgres.js. Either way: backpressure
 * (while the consumer does not pull, the socket is not read and the server waits), and a stream
 * left before its end (abort, or the consumer stopped) terminates the backend: a cancel would not
 * reach a backend blocked writing to a socket nobody reads.
 */
export async function* copyOut(sql: Sql, connect: (() => Sql) | undefined, statement: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const target = connect ? undefined : copyTarget(sql);
  let copy: CopyOut | undefined;
  if (target) {
    try {
      copy = await CopyOut.open(target, statement);
    } catch (err) {
      if (!(err instanceof UnsupportedConnection)) throw err;
    }
  }
  if (copy) yield* streamCopy(copy, sql, signal);
  else yield* postgresJsCopyOut((connect ?? (() => exportConnection(sql)))(), sql, statement, signal);
}

async function* streamCopy(copy: CopyOut, admin: Sql, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const stop = () => copy.close();
  signal.addEventListener("abort", stop);
  try {
    for (;;) {
      if (signal.aborted) return;
      const chunk = await copy.read();
      if (chunk === null) return;
      yield chunk;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    const running = !copy.finished;
    copy.close();
    if (running && copy.pid) await admin`select pg_terminate_backend(${copy.pid})`.catch(() => {});
  }
}

/** Where and how the pool connects, for pg-copy.ts; undefined when only postgres.js can (see `UnsupportedConnection`). Exported for tests. */
export function copyTarget(sql: Sql): CopyTarget | undefined {
  const o = sql.options as unknown as {
    host: string[];
    port: number[];
    path?: string | false;
    database: string;
    user: string;
    pass?: CopyTarget["password"] | null;
    ssl?: unknown;
    sslnegotiation?: string | null;
    connect_timeout?: number | null;
    connection?: Record<string, unknown>;
    socket?: unknown;
    target_session_attrs?: unknown;
  };
  if (o.socket || o.target_session_attrs || o.sslnegotiation === "direct" || !o.host?.length) return undefined;
  const tls = tlsOptions(o.ssl);
  if (tls === undefined) return undefined;
  // As exportConnection's: dates and doubles spelled the same whatever the server's defaults are.
  const params: Record<string, string> = { client_encoding: "UTF8" };
  for (const [k, v] of Object.entries(o.connection ?? {})) if (v !== undefined && v !== null && v !== "" && v !== false) params[k] = String(v);
  Object.assign(params, { DateStyle: "ISO", extra_float_digits: "1" });
  return {
    hosts: o.host.map((host, i) => ({ host, port: Number(o.port[i] ?? o.port[0] ?? 5432) })),
    unix: o.path || undefined,
    user: o.user,
    database: o.database,
    password: o.pass ?? undefined,
    params,
    connectTimeoutMs: (o.connect_timeout || 30) * 1000,
    tls,
  };
}

/** postgres.js's `ssl` option as pg-copy.ts's TLS settings; undefined for options only node:tls takes. */
function tlsOptions(ssl: unknown): CopyTarget["tls"] | undefined {
  if (!ssl || ssl === "disable") return false;
  if (ssl === "prefer" || ssl === "allow") return { mode: "prefer", options: { rejectUnauthorized: false } };
  if (ssl === true || ssl === "require") return { mode: "require", options: { rejectUnauthorized: false } };
  // As node:tls does for postgres.js: the certificate is checked, against the host name (pg-copy.ts sets it per host).
  if (ssl === "verify-full" || ssl === "verify-ca") return { mode: "require", options: { rejectUnauthorized: true } };
  if (typeof ssl !== "object") return undefined;
  const allowed = ["ca", "cert", "key", "passphrase", "rejectUnauthorized", "servername"];
  if (Object.keys(ssl).some((k) => !allowed.includes(k))) return undefined;
  const { servername, ...rest } = ssl as Record<string, unknown>;
  return { mode: "require", options: { rejectUnauthorized: true, ...rest, ...(servername ? { serverName: servername as string } : {}) } as TLSOptions };
}

/**
 * The postgres.js path: its `.readable()` delivers one Buffer per row, concatenated here into
 * ~64 KB writes (the first chunk goes at once, for time to first byte).
 */
async function* postgresJsCopyOut(conn: Sql, admin: Sql, statement: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  let pid = 0;
  let streaming = false;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  signal.addEventListener("abort", poke);
  try {
    pid = (await conn`select pg_backend_pid() as pid`)[0]?.pid;
    const stream = (await conn.unsafe(statement).readable()) as Readable;
    streaming = true;
    stream.on("readable", poke);
    stream.on("end", () => {
      ended = true;
      poke();
    });
    stream.on("error", (err) => {
      failure ??= err;
      ended = true;
      poke();
    });
    const parts: Buffer[] = [];
    let size = 0;
    let first = true;
    const take = () => {
      const chunk = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
      parts.length = 0;
      size = 0;
      first = false;
      return chunk;
    };
    while (!signal.aborted) {
      const chunk = stream.read() as Buffer | null;
      if (chunk !== null) {
        parts.push(chunk);
        size += chunk.length;
        if (size >= WRITE_BYTES || first) yield take();
      } else if (failure) throw failure;
      else if (ended) {
        if (size) yield take();
        return;
      } else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener("abort", poke);
    if (streaming && !ended) await admin`select pg_terminate_backend(${pid})`.catch(() => {});
    await conn.end({ timeout: 0 }).catch(() => {});
  }
}
