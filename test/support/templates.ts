/**
 * Migrated databases to copy from, so a test database costs a copy instead of an initdb and every
 * migration: a PGlite data folder under the temp folder, and a template database on the test
 * server. Both are named by a key of the migrations' checksums (and PGlite's version), so an
 * edited or added migration makes a new one; they are kept between runs. Parallel test files build
 * each at most once: the PGlite folder behind a lock folder, the Postgres database behind an
 * advisory lock.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type postgres from "postgres";
import { openDatabase } from "../../src/adapters/postgres";
import { migrate, readMigrations } from "../../src/db/migrate";
import { createLogger } from "../../src/platform/logger";
import { eventually } from "./eventually";

const PGLITE_VERSION = (JSON.parse(readFileSync(join(import.meta.dir, "../../node_modules/@electric-sql/pglite/package.json"), "utf8")) as { version: string }).version;

/** Changes whenever a migration does (or PGlite, whose data folder format is its own). */
function templateKey(): string {
  const hasher = new Bun.CryptoHasher("sha256").update(PGLITE_VERSION);
  for (const m of readMigrations()) hasher.update(`${m.version}:${m.checksum}`);
  return hasher.digest("hex").slice(0, 16);
}

const log = createLogger("silent");

/** A new folder holding a migrated PGlite data folder (open it with openDatabase's `dataDir`). */
export async function pgliteFromTemplate(): Promise<string> {
  const template = join(tmpdir(), `aurum-test-pglite-${templateKey()}`);
  if (!existsSync(template)) await buildPgliteTemplate(template);
  const dir = mkdtempSync(join(tmpdir(), "aurum-pglite-"));
  cpSync(template, dir, { recursive: true });
  return dir;
}

async function buildPgliteTemplate(template: string): Promise<void> {
  const lock = `${template}.lock`;
  try {
    mkdirSync(lock);
  } catch {
    // Another process builds it: wait for it, unless it died holding the lock.
    const holder = Number(existsSync(join(lock, "pid")) ? readFileSync(join(lock, "pid"), "utf8") : 0);
    if (holder && !alive(holder)) {
      rmSync(lock, { recursive: true, force: true });
      return buildPgliteTemplate(template);
    }
    await eventually(() => existsSync(template) || !existsSync(lock), { what: `the PGlite template ${template}`, timeoutMs: 10 * 60_000, intervalMs: 200 });
    if (!existsSync(template)) return buildPgliteTemplate(template);
    return;
  }
  try {
    writeFileSync(join(lock, "pid"), String(process.pid));
    const building = mkdtempSync(`${template}.building-`);
    const db = await openDatabase({ databaseUrl: undefined, dataDir: building, poolMax: 1, log });
    try {
      await migrate(db.sql);
    } finally {
      await db.close();
    }
    renameSync(building, template);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Arbitrary and constant: "aurum test template". */
const TEMPLATE_LOCK = 7_410_951_203;

/**
 * The migrated template database on the server `admin` is connected to (built on first use);
 * `create database x template <it>` copies it. Nothing stays connected to it, so copies can be made.
 */
export async function postgresTemplate(admin: postgres.Sql, adminUrl: string): Promise<string> {
  const name = `aurum_test_template_${templateKey()}`;
  const exists = async () => (await admin`select 1 from pg_database where datname = ${name}`).length > 0;
  if (await exists()) return name;
  await admin`select pg_advisory_lock(${TEMPLATE_LOCK})`;
  try {
    if (await exists()) return name;
    const building = `${name}_building`;
    await admin.unsafe(`drop database if exists ${building} with (force)`);
    await admin.unsafe(`create database ${building}`);
    const db = await openDatabase({ databaseUrl: adminUrl.replace(/\/[^/?]*(\?|$)/, `/${building}$1`), dataDir: "", poolMax: 1, log });
    try {
      await migrate(db.sql);
    } finally {
      await db.close();
    }
    await admin.unsafe(`alter database ${building} rename to ${name}`);
    return name;
  } finally {
    await admin`select pg_advisory_unlock(${TEMPLATE_LOCK})`;
  }
}
