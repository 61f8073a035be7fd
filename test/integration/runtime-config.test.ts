/**
 * The runtime config API on the real Postgres: admin permissions, TypeBox validation (400 with
 * field details), audit rows, a change reaching a second app instance (a replica) within seconds,
 * and the feature flags it controls (bulk runs, outputs, exports) answering 403/503 with the flag.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import type { App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createMemoryRateLimitStore } from "../../src/ratelimit/gcra";
import { apiApp, call, createTestDb, type TestDb } from "../support/app";
import { checked } from "../support/contract";
import { eventually } from "../support/eventually";
import { dropSoon, limitedApp } from "../support/limits";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

describe("runtime config API", () => {
  let db: TestDb;
  let keys: KeyPair;
  let jwtApp: App;
  let local: App;

  const token = (roles: string[], tenant = "tenant-a") =>
    new SignJWT({ tenant_id: tenant, roles })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject(`user-${roles.join("+")}`)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(keys.privateKey);
  const as = async (roles: string[], extra: Record<string, string> = {}) => ({ authorization: `Bearer ${await token(roles)}`, ...extra });

  beforeAll(async () => {
    keys = await generateKeyPair("RS256");
    db = await createTestDb("postgres", { sampleCurves: true });
    const config = loadConfig({ AURUM_LOG_LEVEL: "silent", AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey) });
    jwtApp = checked(await apiApp(db, config));
    local = (await limitedApp(db, undefined, { AURUM_RUNTIME_CONFIG_POLL_MS: "100" })).app;
  });
  afterAll(async () => {
    await dropSoon(db);
  }, 120_000);

  const RL = { requests_per_second: 10, burst: 20, enabled: true };

  test("non-admins get 403 on every admin route, even with an invalid body", async () => {
    const analyst = await as(["analyst"]);
    for (const [method, path, body] of [
      ["GET", "/v1/admin/config", undefined],
      ["GET", "/v1/admin/config/ratelimit/tenant-a", undefined],
      ["PUT", "/v1/admin/config/ratelimit/tenant-a", RL],
      ["PUT", "/v1/admin/config/ratelimit/tenant-a", { burst: "lots" }],
      ["GET", "/v1/admin/config/feature-flags/tenant-a", undefined],
      ["PUT", "/v1/admin/config/feature-flags/tenant-a/bulk_runs", { enabled: false }],
      ["GET", "/v1/admin/config/audit-log", undefined],
    ] as const) {
      const r = await call(jwtApp, method, path, { headers: analyst, ...(body ? { body } : {}) });
      expect([path, r.status, r.json.error.code]).toEqual([path, 403, "FORBIDDEN"]);
    }
    expect((await call(jwtApp, "GET", "/v1/admin/config")).status).toBe(401);
  });

  test("admin:rate_limits may change rate limits but not feature flags; admin:feature_flags the other way round", async () => {
    const limits = await as(["admin:rate_limits"]);
    const flags = await as(["admin:feature_flags"]);
    expect((await call(jwtApp, "PUT", "/v1/admin/config/ratelimit/tenant-b", { headers: limits, body: RL })).status).toBe(200);
    expect((await call(jwtApp, "PUT", "/v1/admin/config/feature-flags/tenant-b/bulk_runs", { headers: limits, body: { enabled: false } })).status).toBe(403);
    expect((await call(jwtApp, "PUT", "/v1/admin/config/feature-flags/tenant-b/bulk_runs", { headers: flags, body: { enabled: false } })).status).toBe(200);
    expect((await call(jwtApp, "PUT", "/v1/admin/config/ratelimit/tenant-b", { headers: flags, body: RL })).status).toBe(403);
    // Both may read the overview and the audit log; the built-in admin role may do everything.
    expect((await call(jwtApp, "GET", "/v1/admin/config", { headers: flags })).json.data.tenants).toContain("tenant-b");
    expect((await call(jwtApp, "GET", "/v1/admin/config/audit-log?scope=tenant-b", { headers: limits })).json.data).toHaveLength(2);
    expect((await call(jwtApp, "DELETE", "/v1/admin/config/ratelimit/tenant-b", { headers: await as(["admin"]) })).status).toBe(200);
  });

  test("changes are audited: who, when, request id, old and new value, version", async () => {
    const headers = await as(["admin"], { "x-request-id": "audit-req-1" });
    const first = await call(jwtApp, "PUT", "/v1/admin/config/ratelimit/tenant-audit", { headers, body: RL });
    expect(first.json.data).toMatchObject({ scope: "tenant-audit", override: RL, effective: { ...RL, source: "tenant", prefixes: [] } });
    const second = { ...RL, burst: 40, prefixes: [{ prefix: "/v1/scenarios/*/outputs", requests_per_second: 1, burst: 2 }] };
    await call(jwtApp, "PUT", "/v1/admin/config/ratelimit/tenant-audit", { headers: await as(["admin"], { "x-request-id": "audit-req-2" }), body: second });
    await call(jwtApp, "DELETE", "/v1/admin/config/ratelimit/tenant-audit", { headers: await as(["admin"], { "x-request-id": "audit-req-3" }) });
    const log = await call(jwtApp, "GET", "/v1/admin/config/audit-log?scope=tenant-audit", { headers });
    expect(log.status).toBe(200);
    expect(log.json.data.map((e: Record<string, unknown>) => [e.request_id, e.old_value, e.new_value])).toEqual([
      ["audit-req-3", second, null],
      ["audit-req-2", RL, second],
      ["audit-req-1", null, RL],
    ]);
    const entry = log.json.data[2];
    expect(entry).toMatchObject({ actor: "user-admin", scope: "tenant-audit", kind: "ratelimit", name: "" });
    expect(Date.now() - Date.parse(entry.changed_at)).toBeLessThan(60_000);
    expect(log.json.data[0].version).toBeGreaterThan(entry.version);
    // Keyset paging.
    const page1 = await call(jwtApp, "GET", "/v1/admin/config/audit-log?scope=tenant-audit&limit=2", { headers });
    const page2 = await call(jwtApp, "GET", `/v1/admin/config/audit-log?scope=tenant-audit&limit=2&cursor=${page1.json.meta.next_cursor}`, { headers });
    expect([...page1.json.data, ...page2.json.data].map((e: { id: string }) => e.id)).toEqual(log.json.data.map((e: { id: string }) => e.id));
    expect(page2.json.meta.next_cursor).toBeNull();
    // A cursor is bound to its scope: reused for another scope, it is a 400, not a page of the wrong list.
    const elsewhere = await call(jwtApp, "GET", `/v1/admin/config/audit-log?scope=global&limit=2&cursor=${page1.json.meta.next_cursor}`, { headers });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.json.error.message).toContain("cursor");
    const [rows] = await db.sql`select count(*)::int as n from runtime_config_audit where scope = 'tenant-audit'`;
    expect(rows?.n).toBe(3);
  });

  test.each([
    ["ratelimit/t1", { ...RL, requests_per_second: 0 }, "/requests_per_second"],
    ["ratelimit/t1", { ...RL, requests_per_second: "10" }, "/requests_per_second"],
    ["ratelimit/t1", { ...RL, burst: 2.5 }, "/burst"],
    ["ratelimit/t1", { ...RL, burst: 0 }, "/burst"],
    ["ratelimit/t1", { requests_per_second: 1, burst: 1 }, "/enabled"],
    ["ratelimit/t1", { ...RL, color: "red" }, "/color"],
    ["ratelimit/t1", { ...RL, prefixes: [{ prefix: "v1/curves", requests_per_second: 1, burst: 1 }] }, "/prefixes/0/prefix"],
    [
      "ratelimit/t1",
      {
        ...RL,
        prefixes: [
          { prefix: "/v1/curves", requests_per_second: 1, burst: 1 },
          { prefix: "/v1/curves", requests_per_second: 2, burst: 2 },
        ],
      },
      "/prefixes/1/prefix",
    ],
    ["feature-flags/t1/scenario_outputs", { enabled: "yes" }, "/enabled"],
    ["feature-flags/t1/scenario_outputs", { enabled: true, configuration: { max_page_size: 5000 } }, "/configuration/max_page_size"],
    ["feature-flags/t1/scenario_outputs", { enabled: true, configuration: { max_export_rows: 0 } }, "/configuration/max_export_rows"],
    ["feature-flags/t1/scenario_outputs", { enabled: true, configuration: { rows: 1 } }, "/configuration/rows"],
    ["feature-flags/t1/csv_export", { enabled: true, configuration: { max_page_size: 10 } }, "/configuration/max_page_size"],
    ["feature-flags/_nope/csv_export", { enabled: true }, "/tenant"],
  ])("PUT %s %j → 400 naming %s", async (path, body, field) => {
    const r = await call(local, "PUT", `/v1/admin/config/${path}`, { body: body as Record<string, unknown> });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("VALIDATION_ERROR");
    expect(r.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  test("bodies that are not JSON, and unknown features, are 400 and 404 (never 500); nothing is written", async () => {
    const [before] = await db.sql`select count(*)::int as n from runtime_config_audit`;
    expect((await call(local, "PUT", "/v1/admin/config/ratelimit/t1", { raw: "{not json", headers: { "content-type": "application/json" } })).status).toBe(400);
    const unknown = await call(local, "PUT", "/v1/admin/config/feature-flags/t1/teleport", { body: { enabled: true } });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, "NOT_FOUND"]);
    const [after] = await db.sql`select count(*)::int as n from runtime_config_audit`;
    expect(after?.n).toBe(before?.n);
  });

  test("a change made on one replica is enforced by another (it polls every 250 ms)", async () => {
    const replica = (await limitedApp(db, createMemoryRateLimitStore(), { AURUM_RUNTIME_CONFIG_POLL_MS: "250" })).app;
    const h = { "x-aurum-tenant": "t-replica" };
    const scenario = (await call(replica, "POST", "/v1/scenarios", { headers: h, body: { name: "Replicated" } })).json.data.id;
    expect((await call(replica, "GET", "/v1/scenarios?limit=1", { headers: h })).headers.get("x-ratelimit-limit")).toBe("100");
    const changedAt = performance.now();
    await call(local, "PUT", "/v1/admin/config/ratelimit/t-replica", { body: { requests_per_second: 1, burst: 3, enabled: true } });
    await call(local, "PUT", "/v1/admin/config/feature-flags/t-replica/bulk_runs", { body: { enabled: false } });
    const seen = await eventually(
      async () => {
        const r = await call(replica, "POST", `/v1/scenarios/${scenario}/runs:bulk`, { headers: h, body: { runs: [{}] } });
        return r.status === 403 && r.headers.get("x-ratelimit-limit") === "3" && r;
      },
      { what: "the replica to enforce the change" },
    );
    expect(seen.json.error).toMatchObject({ code: "FEATURE_NOT_ENTITLED", details: { flag: "bulk_runs" } });
    console.log(`replica saw the change after ${Math.round(performance.now() - changedAt)} ms`);
  });
});

describe("feature flags in effect", () => {
  let db: TestDb;
  let app: App;
  const h = { "x-aurum-tenant": "t-flags" };
  let scenario: string;

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    app = (await limitedApp(db, undefined)).app;
    scenario = (await call(app, "POST", "/v1/scenarios", { headers: h, body: { name: "Flagged" } })).json.data.id;
  });
  afterAll(async () => {
    await dropSoon(db);
  }, 120_000);

  const bulk = () => call(app, "POST", `/v1/scenarios/${scenario}/runs:bulk`, { headers: h, body: { runs: [{}] } });

  test("bulk runs: off for everyone → 503 FEATURE_DISABLED; a tenant's own override wins; removing it restores the global", async () => {
    expect((await bulk()).status).toBe(200);
    await call(app, "PUT", "/v1/admin/config/feature-flags/_global/bulk_runs", { body: { enabled: false } });
    const off = await bulk();
    expect([off.status, off.json.error.code, off.json.error.details]).toEqual([503, "FEATURE_DISABLED", { flag: "bulk_runs" }]);
    await call(app, "PUT", "/v1/admin/config/feature-flags/t-flags/bulk_runs", { body: { enabled: true } });
    expect((await bulk()).status).toBe(200);
    await call(app, "PUT", "/v1/admin/config/feature-flags/t-flags/bulk_runs", { body: { enabled: false } });
    expect((await bulk()).json.error.code).toBe("FEATURE_NOT_ENTITLED");
    await call(app, "DELETE", "/v1/admin/config/feature-flags/t-flags/bulk_runs");
    expect((await bulk()).status).toBe(503);
    await call(app, "DELETE", "/v1/admin/config/feature-flags/_global/bulk_runs");
    expect((await bulk()).status).toBe(200);
  });

  test("outputs (the guide's ScenarioOutputFeature), CSV export and the output limits", async () => {
    const get = (q: string) => call(app, "GET", `/v1/scenarios/${scenario}/outputs${q}`, { headers: h });
    expect((await get("")).status).toBe(200);
    await call(app, "PUT", "/v1/admin/config/feature-flags/t-flags/ScenarioOutputFeature", { body: { enabled: false } });
    for (const path of [`/v1/scenarios/${scenario}/outputs?limit=0`, `/v1/scenarios/${scenario}/metrics/latest`]) {
      const r = await call(app, "GET", path, { headers: h });
      expect([r.status, r.json.error.code, r.json.error.details]).toEqual([403, "FEATURE_NOT_ENTITLED", { flag: "scenario_outputs" }]);
    }
    await call(app, "PUT", "/v1/admin/config/feature-flags/t-flags/scenario_outputs", { body: { enabled: true, configuration: { max_page_size: 10, max_export_rows: 5 } } });
    expect((await get("?limit=10")).status).toBe(200);
    const tooBig = await get("?limit=11");
    expect([tooBig.status, tooBig.json.error.details[0].field]).toEqual([400, "limit"]);
    expect((await get("?limit=10")).json.meta.limit).toBe(10);
    expect((await get("")).json.meta.limit).toBe(10);
    expect((await get("?format=csv&limit=6")).status).toBe(400);
    expect((await get("?format=csv&limit=5")).status).toBe(200);
    await call(app, "PUT", "/v1/admin/config/feature-flags/t-flags/csv_export", { body: { enabled: false } });
    const csv = await get("?format=csv");
    expect([csv.status, csv.json.error.details]).toEqual([403, { flag: "csv_export" }]);
    expect((await get("")).status).toBe(200);
    const view = await call(app, "GET", "/v1/admin/config/feature-flags/t-flags");
    expect(view.json.data.features).toMatchObject({
      scenario_outputs: { enabled: true, source: "tenant", configuration: { max_page_size: 10, max_export_rows: 5, max_concurrent_exports: 4 } },
      csv_export: { enabled: false, source: "tenant" },
      bulk_runs: { enabled: true, source: "default" },
    });
  });
});
