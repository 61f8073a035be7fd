/**
 * `COPY ... TO STDOUT` exports on a connection of their own, opened with the metadata pool's
 * settings: through our wire client (pg-copy.ts) when it speaks the pool's connection setup, else
 * through postgres.js (max 1). This is the one place that reads postgres.js's resolved options.
 * Why a wire client of our own: docs/decisions/0004-copy-wire-client.md.
 */
import type { Readable } from "node:stream";
import type { TLSOptions } from "bun";
import postgres from "postgres";
import { CopyOut, type CopyTarget, UnsupportedConnection } from "./pg-copy";
import { isPlainSocketOption, type Sql } from "./postgres";

const WRITE_BYTES = 64 * 1024;

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
  // A custom socket (an ssh tunnel, say) is one this client cannot open; ours is plain TCP.
  if ((o.socket && !isPlainSocketOption(o.socket)) || o.target_session_attrs || o.sslnegotiation === "direct" || !o.host?.length) return undefined;
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
