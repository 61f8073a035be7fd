/**
 * The metadata database: postgres.js against a real server (`AURUM_APP_DB_DSN`) or against the
 * embedded PGlite served on loopback by pglite-socket. Callers get the same `Sql` either way.
 */
import postgres from "postgres";
import type { Logger } from "../platform/logger";
import { startEmbeddedPostgres } from "./pglite";

export type Sql = postgres.Sql;

export type Database = { sql: Sql; mode: "server" | "embedded"; close: () => Promise<void> };

export type DatabaseOptions = { databaseUrl: string | undefined; dataDir: string; poolMax: number; log: Logger };

const common = {
  onnotice: () => {},
  // Never let a query sit forever behind a dead server; per-query timeouts live in the services.
  connect_timeout: 10,
  connection: { application_name: "aurum-scenarios" },
} as const;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const sql = postgres(opts.databaseUrl, { ...common, max: opts.poolMax, idle_timeout: 60 });
    return { sql, mode: "server", close: () => sql.end({ timeout: 5 }) };
  }
  const embedded = await startEmbeddedPostgres(opts.dataDir);
  opts.log.info("embedded_postgres_started", { data_dir: opts.dataDir, port: embedded.port });
  // One connection: pglite-socket interleaves extended-protocol messages of concurrent
  // connections outside explicit transactions (its queue works per message, not per query),
  // so a second connection could bind another connection's portal. PGlite is single-threaded anyway.
  const sql = postgres({ ...common, host: "127.0.0.1", port: embedded.port, user: "postgres", database: "postgres", max: 1, ssl: false });
  return {
    sql,
    mode: "embedded",
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}
