/**
 * Issue 18, items 7 and 14: names that are members of Object.prototype (roles in a token, feature
 * names in admin paths) are unknown names, never a 500 or a stored row; tokens need `exp` and may
 * not be issued in the future; a caller without a route's permission gets 403 before its body,
 * query or params are looked at.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { permissionsOf, roleTable } from "../../src/platform/auth";
import { ROUTE_PERMISSIONS } from "../../src/platform/route-permissions";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
type Claims = { exp?: number | null; iat?: number | null; nbf?: number; roles?: unknown; tenant_id?: string };

/** Names an object lookup would find on Object.prototype. */
const PROTO_NAMES = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "__defineGetter__", "isPrototypeOf", "prototype"];

describe("auth hardening", () => {
  let db: TestDb;
  let keys: KeyPair;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let pem: string;

  const now = () => Math.floor(Date.now() / 1000);
  async function token(claims: Claims = {}) {
    const { exp, iat, nbf, roles, tenant_id } = claims;
    const jwt = new SignJWT({ tenant_id: tenant_id ?? "tenant-s", roles: roles ?? ["analyst"], ...(nbf !== undefined ? { nbf } : {}) })
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("user-s");
    if (iat !== null) jwt.setIssuedAt(iat ?? now());
    if (exp !== null) jwt.setExpirationTime(exp ?? now() + 300);
    return jwt.sign(keys.privateKey);
  }
  const bearer = async (claims: Claims = {}) => ({ authorization: `Bearer ${await token(claims)}` });

  beforeAll(async () => {
    keys = await generateKeyPair("RS256");
    pem = await exportSPKI(keys.publicKey);
    db = await createTestDb("postgres", { sampleCurves: true });
    app = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: pem, AURUM_API_AUTH_LEEWAY_SECONDS: "30" });
  });
  afterAll(async () => {
    await db?.drop();
  });

  describe("item 7: prototype names are unknown names", () => {
    test("role names of Object.prototype in a valid token grant nothing: 403, never 500", async () => {
      for (const role of PROTO_NAMES) {
        for (const roles of [[role], role, ["viewer", role]]) {
          const r = await call(app, "GET", "/v1/scenarios", { headers: await bearer({ roles }) });
          const expected = Array.isArray(roles) && roles.includes("viewer") ? 200 : 403;
          expect([role, roles, r.status]).toEqual([role, roles, expected]);
        }
      }
    });

    test("the role table and permission resolution ignore Object.prototype", () => {
      const roles = roleTable(JSON.parse('{"__proto__":["scenarios:read"],"constructor":["scenarios:write"]}'));
      expect([...permissionsOf(["__proto__"], roles)]).toEqual(["scenarios:read"]);
      expect([...permissionsOf(["constructor"], roles)]).toEqual(["scenarios:write"]);
      expect([...permissionsOf(["toString", "valueOf", "hasOwnProperty"], roles)]).toEqual([]);
      expect([...permissionsOf("constructor toString", roleTable(undefined))]).toEqual([]);
    });

    test("a roles claim path never reaches into Object.prototype", async () => {
      const odd = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: pem, AURUM_API_AUTH_ROLES_CLAIM: "constructor.name" });
      const r = await call(odd, "GET", "/v1/scenarios", { headers: await bearer() });
      expect(r.status).toBe(403);
    });

    test("admin flag paths naming prototype members are 404 and store nothing (no row, no audit entry)", async () => {
      const admin = await bearer({ roles: ["admin"] });
      const count = async () => {
        const [row] = await db.sql<{ rows: string; audits: string }[]>`
          select (select count(*) from runtime_config)::text as rows, (select count(*) from runtime_config_audit)::text as audits`;
        return row;
      };
      const before = await count();
      for (const name of PROTO_NAMES) {
        for (const scope of ["_global", "tenant-s"]) {
          const put = await call(app, "PUT", `/v1/admin/config/feature-flags/${scope}/${name}`, { headers: admin, body: { enabled: true } });
          expect([name, put.status, put.json?.error?.code]).toEqual([name, 404, "NOT_FOUND"]);
          const del = await call(app, "DELETE", `/v1/admin/config/feature-flags/${scope}/${name}`, { headers: admin });
          expect([name, del.status]).toEqual([name, 404]);
        }
      }
      expect(await count()).toEqual(before);
      // Known names and the documented alias still work.
      const ok = await call(app, "PUT", "/v1/admin/config/feature-flags/tenant-s/ScenarioOutputFeature", { headers: admin, body: { enabled: true } });
      expect(ok.status).toBe(200);
      expect(ok.json.data.features.scenario_outputs.override).toEqual({ enabled: true });
    });
  });

  describe("item 14: token lifetime and clock skew", () => {
    const list = async (claims: Claims) => call(app, "GET", "/v1/scenarios", { headers: await bearer(claims) });

    test("a token without exp is refused (401) by default", async () => {
      const r = await list({ exp: null });
      expect(r.status).toBe(401);
      expect(r.json.error.message).toContain("exp");
      expect((await list({})).status).toBe(200);
    });

    test("AURUM_API_AUTH_REQUIRE_EXP=0 accepts a token without exp", async () => {
      const relaxed = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: pem, AURUM_API_AUTH_REQUIRE_EXP: "0" });
      expect((await call(relaxed, "GET", "/v1/scenarios", { headers: await bearer({ exp: null }) })).status).toBe(200);
    });

    test("iat or nbf beyond the clock-skew leeway in the future is refused; within it accepted", async () => {
      for (const [claims, status] of [
        [{ iat: now() + 3600 }, 401],
        [{ iat: now() + 10 * 365 * 86400, exp: now() + 11 * 365 * 86400 }, 401],
        [{ iat: now() + 31 + 5 }, 401],
        [{ nbf: now() + 3600 }, 401],
        [{ nbf: now() + 36 }, 401],
        [{ iat: now() + 10 }, 200],
        [{ nbf: now() + 10 }, 200],
        [{ iat: null }, 200],
      ] as [Claims, number][]) {
        const r = await list(claims);
        expect([claims, r.status]).toEqual([claims, status]);
        if (status === 401) expect(r.json.error.code).toBe("UNAUTHORIZED");
      }
    });
  });

  describe("item 14: permission before validation", () => {
    test("a caller without the route's permission gets 403 whatever the body, query or params", async () => {
      const viewer = await bearer({ roles: ["viewer"] });
      const nobody = await bearer({ roles: [] });
      const flagsOnly = await bearer({ roles: ["admin:feature_flags"] });
      const id = "00000000-0000-4000-8000-000000000000";
      const cases: [string, Record<string, string>, string, string, { body?: unknown; raw?: string }][] = [
        ["viewer", viewer, "POST", "/v1/scenarios", { body: { name: 5, assumptions: "x" } }],
        ["viewer", viewer, "POST", "/v1/scenarios", { body: [] }],
        ["viewer", viewer, "PATCH", `/v1/scenarios/${id}`, { body: { tags: 7 } }],
        ["viewer", viewer, "PATCH", "/v1/scenarios/not-a-uuid", { body: { tags: 7 } }],
        ["viewer", viewer, "DELETE", "/v1/scenarios/not-a-uuid", {}],
        ["viewer", viewer, "POST", `/v1/scenarios/${id}/run`, { body: { priority: "NOPE", parameters: 1 } }],
        ["viewer", viewer, "POST", `/v1/scenarios/${id}/runs:bulk`, { body: { runs: "x" } }],
        ["viewer", viewer, "POST", `/v1/scenarios/runs/${id}/state`, { body: { state: 1 } }],
        ["viewer", viewer, "POST", "/v1/curves:import", { raw: "not,a,csv" }],
        ["nobody", nobody, "GET", "/v1/scenarios?limit=banana", {}],
        ["nobody", nobody, "GET", "/v1/scenarios/not-a-uuid", {}],
        ["nobody", nobody, "GET", "/v1/curves?limit=-1", {}],
        ["nobody", nobody, "GET", `/v1/scenarios/${id}/compare?with=nope&limit=0`, {}],
        ["nobody", nobody, "GET", "/v1/scenarios/not-a-uuid/compare", {}],
        ["flagsOnly", flagsOnly, "PUT", "/v1/admin/config/ratelimit/tenant-s", { body: { requests_per_second: "fast" } }],
        ["flagsOnly", flagsOnly, "PUT", "/v1/admin/config/ratelimit/bad tenant", { body: {} }],
        ["viewer", viewer, "PUT", "/v1/admin/config/feature-flags/tenant-s/bulk_runs", { body: { enabled: "maybe" } }],
      ];
      for (const [who, headers, method, path, opts] of cases) {
        const r = await call(app, method, path, {
          headers: { ...headers, ...(opts.raw !== undefined ? { "content-type": path.includes(":import") ? "text/csv" : "application/json" } : {}) },
          ...(opts.body !== undefined ? { body: opts.body as never } : {}),
          ...(opts.raw !== undefined ? { raw: opts.raw } : {}),
        });
        expect([who, method, path, r.status, r.json?.error?.code]).toEqual([who, method, path, 403, "FORBIDDEN"]);
      }
    });

    test("with the permission, the same bodies are 400 as before", async () => {
      const analyst = await bearer({ roles: ["analyst"] });
      const badCompare = await call(app, "GET", `/v1/scenarios/00000000-0000-4000-8000-000000000000/compare?with=nope`, { headers: await bearer({ roles: ["viewer"] }) });
      expect([badCompare.status, badCompare.json.error.code]).toEqual([400, "VALIDATION_ERROR"]);
      const bad = await call(app, "POST", "/v1/scenarios", { headers: analyst, body: { name: 5 } });
      expect([bad.status, bad.json.error.code]).toEqual([400, "VALIDATION_ERROR"]);
      const admin = await bearer({ roles: ["admin:rate_limits"] });
      const badLimit = await call(app, "PUT", "/v1/admin/config/ratelimit/tenant-s", { headers: admin, body: { requests_per_second: "fast" } });
      expect(badLimit.status).toBe(400);
    });

    test("an invalid token is 401 before the body is validated", async () => {
      const r = await call(app, "POST", "/v1/scenarios", { headers: { authorization: "Bearer nope" }, body: { name: 5 } });
      expect(r.status).toBe(401);
    });

    test("every route with a schema or a permission check is in ROUTE_PERMISSIONS, unless public", () => {
      const PUBLIC = new Set([
        "GET /docs",
        "GET /docs/assets/:file",
        "GET /openapi.json",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /console",
        "GET /console/",
        "GET /console/app.js",
        "GET /console/app.css",
      ]);
      const routes = (app as unknown as { routes: { method: string; path: string }[] }).routes.map((r) => `${r.method} ${r.path}`);
      const missing = routes.filter((r) => !PUBLIC.has(r) && !ROUTE_PERMISSIONS.has(r));
      expect(missing).toEqual([]);
      // And the table names no route that does not exist (a renamed route would silently lose its check).
      expect([...ROUTE_PERMISSIONS.keys()].filter((k) => !routes.includes(k))).toEqual([]);
    });
  });
});
