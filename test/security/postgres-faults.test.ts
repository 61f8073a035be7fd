/**
 * Issue 18, item 15 (Postgres): while the pool's connections are killed (`pg_terminate_backend`
 * on a test database of our own), requests answer 200 or a 503 (within about a second on a quiet
 * machine, logged; they waited ~10 s, postgres.js's connect timeout, before), and the service
 * recovers by itself, every connection of its pool included.
 *
 * Then the driver's own failures at such moments, fixed in postgres.js by
 * scripts/patch-dependencies.mjs (docs/decisions/0008): connections killed every few milliseconds
 * leave no request waiting forever (queries handed to a connection between its socket's error and
 * close were never settled: a request once hung 119 s in a full run), and an API process survives
 * backends killed as they connect (an uncaught TypeError or an unhandled rejection in the driver
 * ended it within 2-3 kills).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { ADMIN_PG_URL, buildApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";
import { dropSoon } from "../support/limits";
import { startService } from "../support/service";

describe("Postgres connections killed under load", () => {
  let db: TestDb;
  let admin: postgres.Sql;
  let dbName: string;

  beforeAll(async () => {
    db = await createTestDb("postgres");
    dbName = new URL(db.url as string).pathname.slice(1);
    admin = postgres(ADMIN_PG_URL, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin?.end();
    await dropSoon(db);
  }, 120_000);

  /** Kills every backend of the database (`fresh`: only those that connected within the last second); resolves with how many. */
  const killAll = async (fresh = false) =>
    (
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${dbName} and pid <> pg_backend_pid()
                  ${fresh ? admin`and backend_start > now() - interval '1 second'` : admin``}`
    ).length;
  /** killAll every `everyMs` for `ms`; resolves with how many were killed. */
  const killFor = async (ms: number, everyMs: number, fresh = false) => {
    let killed = 0;
    for (const until = performance.now() + ms; performance.now() < until; await Bun.sleep(everyMs)) killed += await killAll(fresh);
    return killed;
  };
  /** 16 clients sending `request` (resolving with a status) back to back until stopped; counts the statuses and the requests still waiting. */
  const hammer = (request: () => Promise<number>) => {
    const statuses = new Map<number, number>();
    let waiting = 0;
    let stopped = false;
    const clients = Promise.all(
      Array.from({ length: 16 }, async () => {
        while (!stopped) {
          waiting++;
          const status = await request();
          waiting--;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    return {
      statuses,
      waiting: () => waiting,
      /** Stops sending; resolves when every client has its answer, or after `ceilingMs`. */
      stop: (ceilingMs: number) => {
        stopped = true;
        return Promise.race([clients, Bun.sleep(ceilingMs)]);
      },
    };
  };

  test("every request answers 200 or 503 while the connections are killed repeatedly; afterwards the service recovers by itself and all succeed again", async () => {
    const app = await buildApp(db);
    const h = { "x-aurum-tenant": "t-pg-faults" };
    expect((await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status).toBe(200);
    const seen: { status: number; ms: number }[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        const t0 = performance.now();
        const r = await call(app, "GET", "/v1/scenarios?limit=1", { headers: h });
        seen.push({ status: r.status, ms: performance.now() - t0 });
      }
    };
    const clients = Array.from({ length: 16 }, client);
    let killed = 0;
    try {
      await Bun.sleep(300);
      for (let i = 0; i < 6; i++) {
        killed += await killAll();
        await Bun.sleep(800);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    const slowest = Math.max(...seen.map((s) => s.ms));
    const unavailable = seen.filter((s) => s.status === 503);
    const slowest503 = Math.max(0, ...unavailable.map((s) => s.ms));
    console.log(
      `item 15, Postgres: ${killed} backends killed in 6 rounds; ${seen.length} requests, ${unavailable.length} answered 503 (slowest ${Math.round(slowest503)} ms), slowest of all ${Math.round(slowest)} ms`,
    );
    expect(killed).toBeGreaterThan(0);
    expect(seen.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
    // Before: 10 s (postgres.js's connect timeout) to a minute for some requests, then 503 until a
    // restart; now 1–2 s on a quiet machine (logged above, not asserted: a loaded machine's latency is
    // not the service's). What is asserted is the failure mode itself: the service recovers by
    // itself, 20 requests in a row succeed, and then the whole pool does (below).
    let streak = 0;
    let attempts = 0;
    await eventually(
      async () => {
        attempts++;
        streak = (await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status === 200 ? streak + 1 : 0;
        return streak >= 20;
      },
      { what: "20 requests in a row to succeed after the kills", timeoutMs: 60_000, intervalMs: 0 },
    );
    console.log(`item 15, Postgres, recovery: 20 in a row after ${attempts} requests`);

    // And the whole pool is usable again (no connection left unable to connect). First a round of 16
    // concurrent requests that all succeed, which opens every connection of the pool (each connect is
    // bounded by the 1 s connect timeout, which a loaded machine can miss: hence rounds, not one try);
    // then 1.5 s of concurrent traffic on those connections answers only 200.
    let rounds = 0;
    await eventually(
      async () => {
        rounds++;
        const statuses = await Promise.all(Array.from({ length: 16 }, async () => (await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status));
        return statuses.every((s) => s === 200);
      },
      { what: "a round of 16 concurrent requests that all succeed", timeoutMs: 60_000, intervalMs: 100 },
    );
    const after: number[] = [];
    stop = false;
    const again = Array.from({ length: 16 }, async () => {
      while (!stop) after.push((await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status);
    });
    await Bun.sleep(1_500);
    stop = true;
    await Promise.all(again);
    const failedAfter = after.filter((s) => s !== 200).length;
    console.log(`item 15, Postgres, afterwards: the pool whole after ${rounds} round(s); then ${after.length} concurrent requests, ${failedAfter} not 200`);
    expect(failedAfter).toBe(0);
    // Every slot of the pool connects: the server sees several of our backends again.
    const [{ n }] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = ${dbName} and pid <> pg_backend_pid()`;
    expect(n).toBeGreaterThanOrEqual(2);
  }, 120_000);

  test("killed every 30 ms for 5 s: every request still ends (200 or 503), none left waiting", async () => {
    const app = await buildApp(db);
    const h = { "x-aurum-tenant": "t-pg-faults" };
    const clients = hammer(async () => (await call(app, "GET", "/v1/scenarios?limit=1", { headers: h })).status);
    const killed = await killFor(5_000, 30);
    // Each request is bounded by the 1 s connect timeout and a retired pool's 5 s end: 20 s is a
    // ceiling for a loaded machine, not a latency. Before the fix, requests stayed here for good.
    await clients.stop(20_000);
    const { statuses } = clients;
    const waiting = clients.waiting();
    console.log(`item 15, Postgres, killed every 30 ms: ${killed} backends; statuses ${JSON.stringify(Object.fromEntries(statuses))}; still waiting 20 s later: ${waiting}`);
    expect(killed).toBeGreaterThan(0);
    expect(waiting).toBe(0);
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
  }, 120_000);

  test("an API process outlives backends killed as they connect, and serves again afterwards", async () => {
    const api = await startService("api", { ...process.env, AURUM_APP_DB_DSN: db.url as string, AURUM_API_AUTH_DISABLED: "1", AURUM_API_RATE_LIMIT_ENABLED: "0" });
    let exit: number | undefined;
    void api.proc.exited.then((code) => (exit = code));
    const get = () =>
      fetch(`${api.base}/v1/scenarios?limit=1`, { headers: { "x-aurum-tenant": "t-pg-faults" } }).then(
        (r) => r.status,
        () => 0,
      );
    try {
      const clients = hammer(get);
      void api.proc.exited.then(() => clients.stop(0)); // a dead process answers 0 at once: no point hammering it
      const killed = await killFor(5_000, 20, true);
      await clients.stop(20_000);
      const { statuses } = clients;
      console.log(`item 15, Postgres, API process, fresh backends killed every 20 ms: ${killed}; statuses ${JSON.stringify(Object.fromEntries(statuses))}; exit ${exit ?? "none"}`);
      if (exit !== undefined) console.log(api.output().slice(-2_000));
      expect(killed).toBeGreaterThan(0);
      expect(exit).toBeUndefined();
      // 0: a connection refused or reset, which only a dead process gives here.
      expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
      await eventually(async () => (await get()) === 200, { what: "the API process to serve again", timeoutMs: 30_000 });
      expect(exit).toBeUndefined();
    } finally {
      await api.stop();
    }
  }, 120_000);
});
