/**
 * The statuses every operation documents because of the app's cross-cutting hooks, exercised on
 * every operation of the OpenAPI document (so a route added later is swept too): OPTIONS (204 +
 * Allow), 403 (local mode addressed by a non-loopback name), 401 (no token), 415 (a body of another
 * type), 413 (a body over the limit), 429 (an empty bucket, Retry-After), 503 (the rate limiter's
 * store failing closed), 500 and 503 (the database failing unexpectedly / unreachable). Every
 * response also passes the contract hook (test/support/contract.ts): status, body and headers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair } from "jose";
import { createMetrics } from "../../src/adapters/metrics";
import type { Sql } from "../../src/adapters/postgres";
import { loadConfig } from "../../src/config";
import type { RateLimitStore } from "../../src/ratelimit/gcra";
import { createMemoryRateLimitStore } from "../../src/ratelimit/gcra";
import { apiApp, buildApp, call, createTestDb, GUIDE_SCENARIO, type TestDb } from "../support/app";
import { checked, contract } from "../support/contract";

type Op = { method: string; template: string; path: string; authenticated: boolean; limited: boolean; statuses: string[] };
const UUID = "7f0c1e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const VALUES: Record<string, string> = { id: UUID, run_id: UUID, tenant: "t-sweep", feature: "bulk_runs", curve_key: "NO_SUCH_CURVE" };
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A body each operation's schema accepts, so the request gets past validation. */
const BODIES: Record<string, { type: string; text: string }> = {
  "POST /v1/scenarios": { type: "application/json", text: JSON.stringify({ ...GUIDE_SCENARIO, tenant_id: "t-sweep" }) },
  "PATCH /v1/scenarios/{id}": { type: "application/json", text: JSON.stringify({ name: "renamed" }) },
  "POST /v1/scenarios/{id}/run": { type: "application/json", text: "{}" },
  "POST /v1/scenarios/{id}/runs:bulk": { type: "application/json", text: JSON.stringify({ runs: [{}] }) },
  "POST /v1/scenarios/runs/{run_id}/state": { type: "application/json", text: JSON.stringify({ state: "CANCELLED", reason: "sweep" }) },
  "PUT /v1/admin/config/ratelimit/{tenant}": { type: "application/json", text: JSON.stringify({ requests_per_second: 1, burst: 1, enabled: true }) },
  "PUT /v1/admin/config/feature-flags/{tenant}/{feature}": { type: "application/json", text: JSON.stringify({ enabled: true }) },
  "POST /v1/curves:import": { type: "text/csv", text: "curve_key,market,location,product,block,unit,asof_date,contract_month,mid\n" },
};

/** A query each operation with required parameters accepts. */
const QUERIES: Record<string, string> = { "GET /v1/scenarios/{id}/compare": "?with=baseline" };

function operations(): Op[] {
  const doc = contract().doc;
  const ops: Op[] = [];
  for (const [template, item] of Object.entries<Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const statuses = Object.keys(op.responses);
      ops.push({
        method: method.toUpperCase(),
        template,
        path: template.replace(/\{([^}]+)\}/g, (_, name: string) => VALUES[name] ?? "x") + (QUERIES[`${method.toUpperCase()} ${template}`] ?? ""),
        authenticated: (op.security ?? doc.security ?? []).length > 0,
        limited: statuses.includes("429"),
        statuses,
      });
    }
  }
  return ops;
}

const OPS = operations();
const key = (op: Op) => `${op.method} ${op.template}`;

function request(op: Op, opts: { host?: string; body?: { type: string; text: string } | null; headers?: Record<string, string> } = {}): Request {
  const body = opts.body === undefined ? BODIES[key(op)] : opts.body;
  const headers: Record<string, string> = { "x-aurum-tenant": "t-sweep", ...opts.headers };
  if (body) headers["content-type"] = body.type;
  return new Request(`http://${opts.host ?? "localhost"}${op.path}`, { method: op.method, headers, ...(body ? { body: body.text } : {}) });
}

type Handle = { handle: (r: Request) => Promise<Response> };
async function statusesOf(app: Handle, ops: Op[], make: (op: Op) => Request): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const op of ops) {
    const res = await app.handle(make(op));
    await res.arrayBuffer();
    out[key(op)] = res.status;
  }
  return out;
}
const every = (ops: Op[], status: number) => Object.fromEntries(ops.map((op) => [key(op), status]));

/** A postgres.js stand-in: every query (built lazily, like postgres.js's) fails with `error` when awaited. */
function failingSql(error: () => Error): Sql {
  const node: unknown = new Proxy(() => {}, {
    apply: () => node,
    get: (_, prop) =>
      prop === "then"
        ? (ok: () => unknown, ko: (e: unknown) => unknown) => Promise.reject(error()).then(ok, ko)
        : typeof prop === "symbol" && prop !== Symbol.asyncIterator
          ? undefined
          : node,
  });
  return node as Sql;
}

async function appOn(sql: Sql, env: Record<string, string> = {}, store?: RateLimitStore) {
  const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1", ...env });
  return checked(await apiApp({ sql, mode: "server", close: async () => {} }, config, { rateLimitStore: store ?? null }));
}

describe("contract sweep: the hooks' statuses on every documented operation", () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("the sweep covers every operation of the document", () => {
    expect(OPS.length).toBeGreaterThanOrEqual(26);
  });

  test("OPTIONS on every path answers 204 with Allow", async () => {
    const app = await buildApp(db);
    for (const template of Object.keys(contract().doc.paths)) {
      const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => VALUES[name] ?? "x");
      const res = await app.handle(new Request(`http://localhost${path}`, { method: "OPTIONS" }));
      expect([template, res.status]).toEqual([template, 204]);
      expect(res.headers.get("allow")).toContain("OPTIONS");
    }
  });

  test("local mode: every operation answers 403 to a request addressed by a non-loopback name", async () => {
    const app = await buildApp(db);
    expect(await statusesOf(app, OPS, (op) => request(op, { host: "aurum.example" }))).toEqual(every(OPS, 403));
    const options = OPS.map((op) => ({ ...op, method: "OPTIONS" }));
    expect(await statusesOf(app, options, (op) => request(op, { host: "aurum.example", body: null }))).toEqual(every(options, 403));
  });

  test("every operation with a path parameter answers 400 to a malformed one, the error naming it", async () => {
    const app = await buildApp(db);
    const ops = OPS.filter((op) => /\{(id|run_id|tenant)\}/.test(op.template));
    const malformed = (op: Op) => ({
      ...op,
      path: op.template.replace(/\{([^}]+)\}/g, (_, name: string) => (name === "feature" || name === "curve_key" ? (VALUES[name] as string) : "not%20valid!")),
    });
    expect(await statusesOf(app, ops, (op) => request(malformed(op)))).toEqual(every(ops, 400));
  });

  test("a run not yet SUCCEEDED is a 409 on /outputs and /metrics/latest; a bad audit-log query a 400", async () => {
    const app = await buildApp(db);
    const tenant = { "x-aurum-tenant": "t-sweep" };
    const created = await call(app, "POST", "/v1/scenarios", { body: { name: "sweep 409" }, headers: tenant });
    expect(created.status).toBe(201);
    const run = await call(app, "POST", `/v1/scenarios/${created.json.data.id}/run`, { body: {}, headers: tenant });
    expect(run.status).toBe(202);
    for (const read of ["outputs", "metrics/latest"]) {
      const res = await call(app, "GET", `/v1/scenarios/${created.json.data.id}/${read}?run_id=${run.json.data.id}`, { headers: tenant });
      expect([read, res.status, res.json.error.code]).toEqual([read, 409, "CONFLICT"]);
    }
    expect((await call(app, "GET", "/v1/admin/config/audit-log?limit=0")).status).toBe(400);
  });

  test("every operation on a scenario or run answers 404 for an unknown one", async () => {
    const app = await buildApp(db);
    const ops = OPS.filter((op) => /\{(id|run_id)\}/.test(op.template) && op.statuses.includes("404"));
    expect(await statusesOf(app, ops, (op) => request(op))).toEqual(every(ops, 404));
  });

  test("every authenticated operation answers 401 (with a Bearer challenge) without a token", async () => {
    const { publicKey } = await generateKeyPair("RS256");
    const app = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(publicKey), AURUM_API_HOST: "127.0.0.1" });
    const ops = OPS.filter((op) => op.authenticated);
    expect(ops.length).toBeGreaterThanOrEqual(23);
    expect(await statusesOf(app, ops, (op) => request(op, { body: null }))).toEqual(every(ops, 401));
  });

  test("every state-changing operation answers 415 to a body of another type", async () => {
    const app = await buildApp(db);
    const ops = OPS.filter((op) => STATE_CHANGING.has(op.method));
    expect(await statusesOf(app, ops, (op) => request(op, { body: { type: "text/plain", text: "hello" } }))).toEqual(every(ops, 415));
  });

  test("every state-changing operation answers 413 to a body over the limit", async () => {
    const app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_MAX_BODY_BYTES: "1024", AURUM_API_MAX_IMPORT_BYTES: "1024" });
    const ops = OPS.filter((op) => STATE_CHANGING.has(op.method));
    const big = (op: Op) => {
      const type = BODIES[key(op)]?.type ?? "application/json";
      return { type, text: type === "text/csv" ? `${"x".repeat(4096)}\n` : JSON.stringify({ pad: "x".repeat(4096) }) };
    };
    expect(await statusesOf(app, ops, (op) => request(op, { body: big(op) }))).toEqual(every(ops, 413));
  });

  test("every rate-limited operation answers 429 with Retry-After once the caller's bucket is empty", async () => {
    const app = await appOn(db.sql, { AURUM_API_RATE_LIMIT_RPS: "1", AURUM_API_RATE_LIMIT_BURST: "1" }, createMemoryRateLimitStore());
    const ops = OPS.filter((op) => op.limited);
    await (await app.handle(request(ops[0] as Op))).arrayBuffer(); // takes the only token
    const seen: Record<string, number> = {};
    for (const op of ops) {
      const res = await app.handle(request(op));
      await res.arrayBuffer();
      seen[key(op)] = res.status;
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    expect(seen).toEqual(every(ops, 429));
  });

  test("every rate-limited operation answers 503 when the limiter's store fails and the mode is closed", async () => {
    const broken: RateLimitStore = { kind: "memory", take: () => Promise.reject(new Error("store down")) } as RateLimitStore;
    const app = await appOn(db.sql, { AURUM_API_RATE_LIMIT_FAIL_MODE: "closed" }, broken);
    const ops = OPS.filter((op) => op.limited);
    expect(await statusesOf(app, ops, (op) => request(op))).toEqual(every(ops, 503));
  });

  // /healthz and /metrics never touch the database; /readyz reports it (503) instead of failing; the
  // admin config reads answer from the runtime snapshot held in memory (docs/runtime-config.md).
  const dbOps = () => OPS.filter((op) => op.template.startsWith("/v1/") && !(op.method === "GET" && op.template.startsWith("/v1/admin/config")));

  test("every /v1 operation answers 500 (the envelope, no internals) when the database fails unexpectedly", async () => {
    const app = await appOn(failingSql(() => new Error("boom")));
    const ops = dbOps();
    expect(await statusesOf(app, ops, (op) => request(op))).toEqual(every(ops, 500));
  });

  test("/metrics answers 500 (the envelope) when collecting fails", async () => {
    const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_DISABLED: "1" });
    const metrics = createMetrics();
    metrics.registry.metrics = () => Promise.reject(new Error("collector failed"));
    const app = checked(await apiApp(db, config, { metrics }));
    const res = await app.handle(new Request("http://localhost/metrics"));
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([500, "INTERNAL"]);
  });

  test("every /v1 operation answers 503 when the database is unreachable; /readyz too", async () => {
    const app = await appOn(failingSql(() => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })));
    const ops = dbOps();
    expect(await statusesOf(app, ops, (op) => request(op))).toEqual(every(ops, 503));
    expect((await app.handle(new Request("http://localhost/readyz"))).status).toBe(503);
  });
});
