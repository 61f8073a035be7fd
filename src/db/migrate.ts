/**
 * Numbered SQL migrations from ddl/postgres/, recorded in the `schema_migrations` ledger.
 * Safe to run twice and from two processes at once: one transaction holds an advisory lock,
 * applies what the ledger lacks, and refuses to continue if an applied file was edited.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Sql } from "../adapters/postgres";

export const MIGRATIONS_DIR = join(import.meta.dir, "../../ddl/postgres");
const LOCK_KEY = 7_410_951_202; // arbitrary, constant: "aurum migrations"

type Migration = { version: string; name: string; sql: string; checksum: string };

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), "utf8");
      const [version, ...rest] = file.replace(/\.sql$/, "").split("_");
      return { version: version as string, name: rest.join("_"), sql, checksum: new Bun.CryptoHasher("sha256").update(sql).digest("hex") };
    });
}

/** Applies pending migrations; returns the versions applied by this call. */
export async function migrate(sql: Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = readMigrations(dir);
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`create table if not exists schema_migrations (
      version text primary key, name text not null, checksum text not null,
      applied_at timestamptz not null default now())`;
    const applied = new Map((await tx<{ version: string; checksum: string }[]>`select version, checksum from schema_migrations`).map((r) => [r.version, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const seen = applied.get(m.version);
      if (seen !== undefined) {
        if (seen !== m.checksum) throw new Error(`migration ${m.version}_${m.name} was edited after it was applied (checksum differs)`);
        continue;
      }
      await tx.unsafe(m.sql);
      await tx`insert into schema_migrations (version, name, checksum) values (${m.version}, ${m.name}, ${m.checksum})`;
      done.push(m.version);
    }
    return done;
  });
}
