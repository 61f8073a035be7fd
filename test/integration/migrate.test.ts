/** Migrations: applied once, recorded in the ledger, safe to rerun and to run from two processes at once. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { migrate, readMigrations } from "../../src/db/migrate";
import { ADMIN_PG_URL } from "../support/app";

describe("migrations on the real Postgres", () => {
  const name = `aurum_migrate_${Date.now().toString(36)}`;
  const url = ADMIN_PG_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  const admin = postgres(ADMIN_PG_URL, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  test("two processes migrating at once apply each file exactly once", async () => {
    await admin.unsafe(`create database ${name}`);
    const procs = [0, 1].map(() =>
      Bun.spawn(["bun", "src/main.ts", "migrate"], {
        cwd: join(import.meta.dir, "../.."),
        env: { ...process.env, AURUM_APP_DB_DSN: url, AURUM_LOG_LEVEL: "info" },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0]);
    const logs = await Promise.all(procs.map((p) => new Response(p.stdout).text()));
    const applied = logs.map((l) => JSON.parse(l.split("\n").find((x) => x.includes("migrations_applied")) as string).applied as string[]);
    const expected = readMigrations().map((m) => m.version);
    // One process applied everything; the other found nothing left to do.
    expect(applied.flat().sort()).toEqual(expected.sort());
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const ledger = await sql`select version from schema_migrations order by version`;
      expect(ledger.map((r) => r.version)).toEqual(expected);
      expect(await migrate(sql)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  test("an applied migration that was edited afterwards stops the migration", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aurum-ddl-"));
    writeFileSync(join(dir, "001_first.sql"), "create table drift_probe (id int);");
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await sql`delete from schema_migrations`;
      expect(await migrate(sql, dir)).toEqual(["001"]);
      writeFileSync(join(dir, "001_first.sql"), "create table drift_probe (id bigint);");
      expect(migrate(sql, dir)).rejects.toThrow("edited after it was applied");
    } finally {
      await sql.end();
    }
  });
});
