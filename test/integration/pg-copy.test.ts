/**
 * src/adapters/pg-copy.ts against the real Postgres: the pool's settings are ones it can connect with (so exports
 * take it, not the postgres.js fallback), its bytes are postgres.js's for the same COPY, and a
 * client that stops early leaves no backend behind; password logins and TLS on a server of the test's
 * own. The protocol edge cases (messages cut at every byte, timeouts): test/unit/adapters/pg-copy.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import net from "node:net";
import type { Readable } from "node:stream";
import postgres from "postgres";
import { copyTarget } from "../../src/adapters/copy-out";
import { CopyOut } from "../../src/adapters/pg-copy";
import { migrate } from "../../src/db/migrate";
import { releaseChunk } from "../../src/outputs/chunks";
import { copyStatement } from "../../src/outputs/pg-reader";
import { createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { seedRun } from "../support/outputs";
import { PASSWORDS, throwawayPostgres } from "../support/postgres";

describe("CopyOut on Postgres", () => {
  let db: TestDb;
  let statement: string;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    const [scenario] = await db.sql<{ id: string }[]>`insert into scenario (tenant_id, name) values ('t-copy', 'copy') returning id::text as id`;
    const scenarioId = (scenario as { id: string }).id;
    const runId = await seedRun(db.sql, { tenantId: "t-copy", scenarioId, rows: 50_000, curves: 40, curvePattern: 'C"%s",\n=x' });
    statement = copyStatement({ tenantId: "t-copy", scenarioId, runId }, { format: "csv", escapeFormulas: true });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the pool's settings are spoken (no fallback), with the export's startup parameters", () => {
    const target = copyTarget(db.sql);
    expect(target).toBeDefined();
    expect(target?.params).toMatchObject({ client_encoding: "UTF8", application_name: "aurum-scenarios", DateStyle: "ISO", extra_float_digits: "1" });
  });

  test("the pool's own socket option (plain TCP that keeps an error listener) is spoken too; a foreign one (a tunnel) falls back", () => {
    expect(typeof (db.sql.options as unknown as { socket?: unknown }).socket).toBe("function");
    const tunnel = postgres(db.url as string, { socket: () => new net.Socket() } as object);
    try {
      expect(copyTarget(tunnel)).toBeUndefined();
    } finally {
      void tunnel.end();
    }
  });

  test("the same bytes as postgres.js's COPY stream", async () => {
    const copy = await CopyOut.open(copyTarget(db.sql)!, statement);
    const ours: Uint8Array[] = [];
    for (let c = await copy.read(); c !== null; c = await copy.read()) {
      ours.push(Uint8Array.from(c));
      releaseChunk(c);
    }
    copy.close();
    expect(copy.finished).toBe(true);
    const theirs: Buffer[] = [];
    const other = postgres(db.url as string, { max: 1, onnotice: () => {}, connection: { DateStyle: "ISO", extra_float_digits: 1 } });
    try {
      for await (const chunk of (await other.unsafe(statement).readable()) as Readable) theirs.push(chunk as Buffer);
    } finally {
      await other.end();
    }
    expect(Buffer.concat(ours).equals(Buffer.concat(theirs))).toBe(true);
    expect(Buffer.concat(ours).length).toBeGreaterThan(5_000_000);
  });

  test("closed after one chunk: the backend is gone at once", async () => {
    const copy = await CopyOut.open(copyTarget(db.sql)!, statement);
    expect(await copy.read()).not.toBeNull();
    const backends = () => db.sql`select 1 from pg_stat_activity where pid = ${copy.pid}`;
    expect(await backends()).toHaveLength(1);
    expect(copy.finished).toBe(false);
    copy.close();
    await eventually(async () => (await backends()).length === 0, { what: "the backend to go with the closed connection", timeoutMs: 10_000, intervalMs: 10 });
  });

  test("a statement error before any row is thrown by the first read", async () => {
    const copy = await CopyOut.open(copyTarget(db.sql)!, "copy (select 1 / 0) to stdout");
    await expect(copy.read()).rejects.toThrow(/division by zero/);
    copy.close();
  });
});

/**
 * Logins and TLS against a server of the test's own (test/support/postgres.ts): each method the
 * client speaks reads the same bytes as a superuser's postgres.js COPY, over TLS when asked, and the
 * wrong password, a TLS-only role without TLS and an unverifiable certificate fail with the reason.
 */
describe("CopyOut logins and TLS, on a Postgres of the test's own", async () => {
  const server = await throwawayPostgres();
  if (!server) {
    console.warn("SKIP PostgreSQL server binaries (initdb) are not installed: no throwaway server for the login and TLS cases");
    test.skip("PostgreSQL server binaries (initdb) not installed", () => {});
    return;
  }
  const base = { host: "127.0.0.1", port: server.port, database: server.database, max: 1, onnotice: () => {}, connect_timeout: 5 } as const;
  const su = postgres({ ...base, host: server.socketDir, user: "postgres" });
  let statement = "";
  let expected = Buffer.alloc(0);
  const ca = readFileSync(server.certificate, "utf8");

  beforeAll(async () => {
    await migrate(su);
    const [scenario] = await su<{ id: string }[]>`insert into scenario (tenant_id, name) values ('t-auth', 'auth') returning id::text as id`;
    const scenarioId = (scenario as { id: string }).id;
    const runId = await seedRun(su, { tenantId: "t-auth", scenarioId, rows: 5_000, curves: 10, curvePattern: "C é %s" });
    await su.unsafe(`grant select on all tables in schema public to ${Object.keys(PASSWORDS).join(", ")}`);
    statement = copyStatement({ tenantId: "t-auth", scenarioId, runId }, { format: "csv", escapeFormulas: false });
    const parts: Buffer[] = [];
    const plain = postgres({ ...base, user: "postgres", connection: { DateStyle: "ISO", extra_float_digits: 1 } });
    for await (const chunk of (await plain.unsafe(statement).readable()) as Readable) parts.push(chunk as Buffer);
    await plain.end();
    expected = Buffer.concat(parts);
  });
  afterAll(async () => {
    await su.end({ timeout: 1 });
    await server.stop();
  });

  /** The export through CopyOut with a pool's settings: its bytes and whether its connection used TLS. */
  async function exportWith(options: postgres.Options<Record<string, never>>) {
    const sql = postgres({ ...base, ...options });
    try {
      const target = copyTarget(sql);
      if (!target) throw new Error("no CopyOut target: the export would fall back to postgres.js");
      const copy = await CopyOut.open(target, statement);
      const parts: Uint8Array[] = [];
      let tls: boolean | null = null;
      try {
        for (let c = await copy.read(); c !== null; c = await copy.read()) {
          // Asked while the backend still streams (it is gone once the statement ends).
          if (parts.length === 0) tls = (await su<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = ${copy.pid}`)[0]?.ssl ?? null;
          parts.push(Uint8Array.from(c));
          releaseChunk(c);
        }
      } finally {
        copy.close();
      }
      return { bytes: Buffer.concat(parts), tls };
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  const cases: [string, postgres.Options<Record<string, never>>, boolean][] = [
    ["SCRAM-SHA-256 (a non-ASCII password)", { user: "scram_user", pass: PASSWORDS.scram_user }, false],
    ["SCRAM-SHA-256, the password from a function", { user: "scram_user", pass: (() => PASSWORDS.scram_user) as unknown as string }, false],
    ["md5", { user: "md5_user", pass: PASSWORDS.md5_user }, false],
    ["cleartext password", { user: "clear_user", pass: PASSWORDS.clear_user }, false],
    ["TLS require, then SCRAM", { user: "tls_user", pass: PASSWORDS.tls_user, ssl: "require" }, true],
    ["TLS prefer", { user: "tls_user", pass: PASSWORDS.tls_user, ssl: "prefer" }, true],
    ["TLS with the CA, verified against the host name", { host: "localhost", user: "tls_user", pass: PASSWORDS.tls_user, ssl: { ca } as never }, true],
    ["TLS with the CA and servername", { user: "tls_user", pass: PASSWORDS.tls_user, ssl: { ca, servername: "localhost" } as never }, true],
    ["the unix socket (trust)", { host: server.socketDir, user: "postgres" }, false],
  ];
  for (const [name, options, tls] of cases) {
    test(`${name}: the same bytes${tls ? ", over TLS" : ""}`, async () => {
      const got = await exportWith(options);
      expect(got.bytes.length).toBeGreaterThan(500_000);
      expect(got.bytes.equals(expected)).toBe(true);
      if (!options.host?.startsWith("/")) expect(got.tls).toBe(tls);
    });
  }

  const failures: [string, postgres.Options<Record<string, never>>, RegExp][] = [
    ["a wrong password", { user: "scram_user", pass: "not it" }, /password authentication failed/],
    ["a TLS-only role without TLS", { user: "tls_user", pass: PASSWORDS.tls_user }, /no pg_hba.conf entry|rejects connection/],
    ["verify-full against a self-signed certificate", { host: "localhost", user: "tls_user", pass: PASSWORDS.tls_user, ssl: "verify-full" }, /self[- ]signed|certificate/i],
    ["a certificate for another host name", { user: "tls_user", pass: PASSWORDS.tls_user, ssl: { ca } as never }, /host|altname|name|certificate/i],
  ];
  for (const [name, options, reason] of failures) {
    test(`${name} fails with the reason`, async () => {
      await expect(exportWith(options)).rejects.toThrow(reason);
    });
  }
});
