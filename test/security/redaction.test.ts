/**
 * Issue 18, item 11: configuration errors (and log lines) printed DSNs, Redis and Trino URLs with
 * their passwords. Every config error, start failure and log line now masks them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { createLogger } from "../../src/platform/logger";
import { redact } from "../../src/platform/redact";
import { createTestDb, type TestDb } from "../support/app";
import { freePort } from "../support/redis";
import { type ServiceProcess, startService } from "../support/service";
import { cleanEnv, runToExit } from "./spawn";

const SECRET = "Pa55-w0rd-9f3e";

describe("redact", () => {
  test.each([
    [`postgres://aurum:${SECRET}@db:5432/app`, "postgres://aurum:***@db:5432/app"],
    [`postgresql://aurum:${SECRET}@db/app?sslmode=require`, "postgresql://aurum:***@db/app?sslmode=require"],
    [`redis://:${SECRET}@cache:6379/0`, "redis://:***@cache:6379/0"],
    [`rediss://default:${SECRET}@cache:6380`, "rediss://default:***@cache:6380"],
    [`redis://${SECRET}@cache:6379`, "redis://***@cache:6379"],
    [`https://trino:${SECRET}@trino.internal:8443`, "https://trino:***@trino.internal:8443"],
    [`postgres://db/app?user=aurum&password=${SECRET}`, "postgres://db/app?user=aurum&password=***"],
    [`host=db user=aurum password=${SECRET} dbname=app`, "host=db user=aurum password=*** dbname=app"],
    [`postgres://aurum:p@ss${SECRET}@db/app`, "postgres://aurum:***@db/app"],
  ])("%s", (input, expected) => {
    expect(redact(input)).toBe(expected);
    expect(redact(JSON.stringify({ url: input }))).not.toContain(SECRET);
  });

  test("text without credentials is unchanged", () => {
    for (const t of ["http://127.0.0.1:8095", "postgres://aurum@db/app", "a=b", "user@example.com", '{"event":"listening"}']) expect(redact(t)).toBe(t);
  });
});

describe("configuration errors and log lines", () => {
  test.each([
    ["AURUM_APP_DB_DSN", `mysql://aurum:${SECRET}@db/app`],
    ["AURUM_TIMESCALE_DSN", `postgres//aurum:${SECRET}@db/app`],
    ["AURUM_TIMESCALE_DSN", `postgresql:/aurum:${SECRET}@db/app`],
    ["AURUM_REDIS_URL", `http://:${SECRET}@cache:6379`],
    ["AURUM_TRINO_URL", `trino://aurum:${SECRET}@trino:8080`],
  ])("a bad %s is named without its password", (name, value) => {
    let message = "";
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain(name);
    expect(message).toContain("***");
    expect(message).not.toContain(SECRET);
  });

  test("a logged field holding a DSN is masked", () => {
    const lines: string[] = [];
    const log = createLogger("debug", (l) => lines.push(l));
    log.error("db_failed", { dsn: `postgres://aurum:${SECRET}@db/app`, error: `connect to redis://:${SECRET}@cache failed` });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(SECRET);
    expect(JSON.parse(lines[0] as string).dsn).toBe("postgres://aurum:***@db/app");
  });
});

describe("the service process", () => {
  let db: TestDb;
  let service: ServiceProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "aurum-redact-"));
  beforeAll(async () => {
    db = await createTestDb("postgres");
  });
  afterAll(async () => {
    service?.proc.kill("SIGKILL");
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a start refused for a bad DSN, Redis and Trino URL prints none of their passwords", async () => {
    const r = await runToExit(
      "start",
      cleanEnv({
        AURUM_DATA_DIR: dir,
        AURUM_APP_DB_DSN: `mysql://aurum:${SECRET}@db/app`,
        AURUM_REDIS_URL: `http://:${SECRET}@cache:6379`,
        AURUM_TRINO_URL: `ftp://trino:${SECRET}@trino:8080`,
      }),
    );
    expect(r.code).toBe(78);
    expect(r.stderr).toContain("AURUM_APP_DB_DSN");
    expect(r.stderr).toContain("AURUM_REDIS_URL");
    expect(r.stderr).toContain("AURUM_TRINO_URL");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  test("a start that fails on an unreachable database prints the DSN's password nowhere", async () => {
    const port = await freePort();
    const r = await runToExit("start", cleanEnv({ AURUM_DATA_DIR: dir, AURUM_APP_DB_DSN: `postgres://aurum:${SECRET}@127.0.0.1:${port}/app` }), 60_000);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  }, 120_000);

  test("a normal start's logs, with credentials in its DSN, Redis and Trino URLs, never show them", async () => {
    // Trust auth on the test server ignores the password; Redis points at a closed port (logged as unavailable).
    const dsn = (db.url as string).replace("postgres://postgres@", `postgres://postgres:${SECRET}@`);
    expect(dsn).toContain(SECRET);
    const redisPort = await freePort();
    service = await startService(
      "start",
      cleanEnv({
        AURUM_DATA_DIR: dir,
        AURUM_APP_DB_DSN: dsn,
        AURUM_REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redisPort}/0`,
        AURUM_TRINO_URL: `http://trino:${SECRET}@127.0.0.1:${redisPort}`,
        AURUM_LOG_LEVEL: "debug",
      }),
    );
    const res = await fetch(`${service.base}/v1/scenarios`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant_id: "t1", name: "x" }),
    });
    expect(res.status).toBe(201);
    await Bun.sleep(500);
    expect(service.output()).toContain('"event":"listening"');
    expect(service.output()).not.toContain(SECRET);
  }, 120_000);
});
