/**
 * The metadata database: postgres.js against a real server (`AURUM_APP_DB_DSN`) or against the
 * embedded PGlite served on loopback by pglite-socket. Callers get the same `Sql` either way.
 */
import net from "node:net";
import postgres from "postgres";
import type { Logger } from "../platform/logger";
import { withTimeout } from "../platform/timers";
import { retryableSqlState } from "./pg-copy";
import { startEmbeddedPostgres } from "./pglite";

// postgres.js's server errors carry a retry verdict like this adapter's other errors (TrinoError,
// pg-copy's PostgresError), so the worker decides by `retryable`, not by the driver's class or name.
Object.defineProperty(postgres.PostgresError.prototype, "retryable", {
  get(this: { code?: unknown }): boolean | undefined {
    return typeof this.code === "string" ? retryableSqlState(this.code) : undefined;
  },
  configurable: true,
});

export type Sql = postgres.Sql;

/** A transaction or the pool: repositories run the same tagged-template queries on either. */
export type Tx = Sql | postgres.TransactionSql;

/**
 * The unit of work services use instead of the driver's `begin`: `fn`'s queries (handed to the
 * repositories as `tx`) commit together when it resolves and roll back together when it throws.
 */
export type Transaction = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

export function transactions(sql: Sql): Transaction {
  // `fn` returns a promise, so `begin` resolves to what it resolves to (postgres.js unwraps only arrays returned directly).
  return <T>(fn: (tx: Tx) => Promise<T>) => sql.begin(fn) as Promise<T>;
}

/**
 * SQL text of `column` (a timestamptz) as the API spells instants, UTC to the microsecond
 * (`2026-01-02T03:04:05.678901Z`): exact enough to be a keyset cursor's sort key.
 */
export const utcIsoText = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export type Database = { sql: Sql; mode: "server" | "embedded"; close: () => Promise<void> };

export type DatabaseOptions = {
  databaseUrl: string | undefined;
  dataDir: string;
  poolMax: number;
  log: Logger;
  /** Bound on opening one connection (default DB_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
};

/**
 * How long opening a connection may take before the queries waiting for it fail (and the request
 * answers 503). A healthy server connects in milliseconds, a remote one over TLS in a few hundred.
 * It was 10 s, and after `pg_terminate_backend` killed the pool's connections requests waited that
 * long for their 503 (see `selfHealingPool` for why connects hung at all).
 */
export const DB_CONNECT_TIMEOUT_MS = 1_000;

/**
 * Seconds before a connection that closed with an error reconnects. postgres.js's default grows
 * 3^n / 100 up to 20 s with one failure count shared by the whole pool, and a query handed to a
 * connection waiting out that delay waits with it. Capped at 0.25 s (with jitter), a query waits at
 * most that plus the connect timeout. Attempts are made only for waiting queries, so a down server
 * is not hammered.
 */
export const reconnectBackoff = (retries: number) => Math.min(0.01 * 2 ** retries, 0.25) * (0.5 + Math.random() / 2);

const ignore = () => {};

/**
 * A socket that always has an 'error' listener. postgres.js removes every listener of a socket when
 * it closes, and Bun 1.4's node:net can deliver a reset (ECONNRESET) after that: its close handler
 * sees postgres.js's listener, then emits the error a tick later, when none is left. An 'error'
 * event with no listener throws, so a connection reset by the server (a restart, a dropped
 * database) could end the process (seen once in a test process: "Unhandled error between tests,
 * read ECONNRESET at close (node:net)"). The error belongs to a connection postgres.js has already
 * given up, so it is dropped here.
 */
export class GuardedSocket extends net.Socket {
  constructor() {
    super();
    super.on("error", ignore);
  }
  override removeAllListeners(event?: string | symbol): this {
    super.removeAllListeners(event);
    if (event === undefined || event === "error") super.on("error", ignore);
    return this;
  }
}

const plainTcp = new WeakSet<object>();
/** Whether postgres.js's `socket` option is ours: plain TCP (or a unix socket) to its own host and port, as without it. */
export const isPlainSocketOption = (socket: unknown): boolean => typeof socket === "function" && plainTcp.has(socket);

/**
 * postgres.js's `socket` option: a GuardedSocket, connecting. postgres.js then writes its startup
 * message at once (net.Socket queues writes until it connects), and its connect timeout, error and
 * close handling work as with its own socket. Hosts are taken in turn, as postgres.js does. With
 * TLS, postgres.js wraps it in a TLS socket of its own, which is not guarded.
 */
function guardedSockets(): object {
  let next = 0;
  // Documented (postgres.js README, "Custom socket") but not in its type definitions, hence `object`.
  const socket = (o: { host: string[]; port: number[]; path?: string | false }): net.Socket => {
    const s = new GuardedSocket();
    if (o.path) return s.connect(o.path);
    const i = next++ % o.port.length;
    return s.connect(o.port[i] as number, o.host[i] as string);
  };
  plainTcp.add(socket);
  return { socket };
}

const common = {
  onnotice: () => {},
  backoff: reconnectBackoff,
  connection: { application_name: "aurum-scenarios" },
} as const;

/** Connections closing this often (closes within the window) mean the pool is replaced, at most once per window. */
export const POOL_RESET = { closes: 3, windowMs: 5_000 };

/**
 * A pool that replaces itself after a burst of connection closes. postgres.js 3.4 keeps a fixed set
 * of connection objects; one that closes while a write is still scheduled keeps a stale write timer
 * (`closed()` clears the immediate but never resets `nextWriteTimer`), so it never sends another
 * startup message: every later connect on it hangs until the connect timeout, for good. After
 * `pg_terminate_backend` under load most of the pool ended up like that and the API answered 503
 * until restarted. Fresh connection objects do not inherit the state, so after several closes
 * (killed backends, a restarted server, or the timeouts of such broken connections) queries go to
 * a new pool, and the old one is ended once its in-flight queries finished (at most 5 s). Only
 * closes while the pool is in use count (an idle service's connections all time out together).
 * The stale timer itself is now fixed in the driver (scripts/patch-dependencies.mjs,
 * docs/decisions/0008); the pool still replaces connections that keep failing for other reasons.
 *
 * `sql` forwards every call and property to the current pool; fragments and helpers made by an
 * earlier pool (`sql.unsafe(...)` kept by a repo) remain valid in the next one.
 */
export function selfHealingPool(create: (onclose: () => void) => Sql, log: Logger): { sql: Sql; end: (o?: { timeout?: number }) => Promise<void> } {
  let closes: number[] = [];
  let replacedAt = 0;
  // Closes of an idle service (idle_timeout ending every connection at once) are not a symptom.
  let usedAt = 0;
  const retired = new Set<Promise<void>>();
  const onclose = () => {
    const now = Date.now();
    if (now - usedAt > 2_000) return;
    closes = closes.filter((t) => now - t < POOL_RESET.windowMs);
    closes.push(now);
    if (closes.length < POOL_RESET.closes || now - replacedAt < POOL_RESET.windowMs) return;
    replacedAt = now;
    closes = [];
    const old = current;
    current = create(onclose);
    log.warn("db_pool_replaced", { reason: `${POOL_RESET.closes} connections closed within ${POOL_RESET.windowMs} ms` });
    const ending = old.end({ timeout: 5 }).catch(() => undefined);
    retired.add(ending);
    void ending.finally(() => retired.delete(ending));
  };
  let current = create(onclose);
  const end = async (o?: { timeout?: number }) => {
    await Promise.all([current.end(o), ...retired]);
  };
  const sql = new Proxy(function pool() {} as unknown as Sql, {
    apply: (_target, _this, args) => {
      usedAt = Date.now();
      return Reflect.apply(current as unknown as (...a: unknown[]) => unknown, current, args);
    },
    get: (_target, prop) => {
      if (prop === "end") return end;
      usedAt = Date.now();
      const value = Reflect.get(current, prop);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
  return { sql, end };
}

/** Undefined when the database answers `select 1` within 2 s, else what went wrong (the readiness probes). */
export async function pingDatabase(sql: Sql): Promise<string | undefined> {
  try {
    await withTimeout(sql`select 1`, 2000, () => {
      throw new Error("timeout");
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  // Never let a query sit long behind a dead or unresponsive server; per-query timeouts live in the services.
  const connect_timeout = (opts.connectTimeoutMs ?? DB_CONNECT_TIMEOUT_MS) / 1000;
  if (opts.databaseUrl) {
    const url = opts.databaseUrl;
    const pool = selfHealingPool((onclose) => postgres(url, { ...common, ...guardedSockets(), connect_timeout, max: opts.poolMax, idle_timeout: 60, onclose }), opts.log);
    return { sql: pool.sql, mode: "server", close: () => pool.end({ timeout: 5 }) };
  }
  const embedded = await startEmbeddedPostgres(opts.dataDir);
  opts.log.info("embedded_postgres_started", { data_dir: opts.dataDir, port: embedded.port });
  // One connection: pglite-socket interleaves extended-protocol messages of concurrent
  // connections outside explicit transactions (its queue works per message, not per query),
  // so a second connection could bind another connection's portal. PGlite is single-threaded anyway.
  const sql = postgres({ ...common, ...guardedSockets(), connect_timeout, host: "127.0.0.1", port: embedded.port, user: "postgres", database: "postgres", max: 1, ssl: false });
  return {
    sql,
    mode: "embedded",
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}
