/**
 * Issue 18, item 12 (cross-site requests): any web page could make a browser send form posts (or
 * `fetch` with a "simple" content type, which needs no CORS preflight) that created scenarios,
 * triggered and cancelled runs and imported curves — in local mode with no token at all. State-changing
 * requests now need their route's content type and, when the browser sends an Origin, this API's own
 * (or one allowed by AURUM_API_ALLOWED_ORIGINS).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CSV_COLUMNS } from "../../src/curves/model";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

const TENANT = "xsite-tenant";
const EVIL = "https://evil.example";
const SCENARIO = { tenant_id: TENANT, name: "forged" };
const CSV = `${CSV_COLUMNS.join(",")}\nXSITE_CURVE,PJM,West Hub,power,ON_PEAK,USD/MWh,2026-11-27,2027-01,61.25\n`;

describe("cross-site requests in local mode", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let allowing: Awaited<ReturnType<typeof buildApp>>;
  let scenarioId = "";
  let runId = "";
  const count = async (table: string) => Number((await db.sql.unsafe(`select count(*)::int as n from ${table}`))[0]?.n);

  /** What a browser sends for `<form method=post enctype=…>` or a no-preflight fetch from another site. */
  const raw = (method: string, path: string, body: BodyInit | undefined, headers: Record<string, string>) =>
    app.handle(new Request(`http://localhost${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }));

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    app = await buildApp(db);
    allowing = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_ALLOWED_ORIGINS: "https://console.example.com, http://localhost:5173" });
    const created = await call(app, "POST", "/v1/scenarios", { body: { tenant_id: TENANT, name: "legit" } });
    expect(created.status).toBe(201);
    scenarioId = created.json.data.id;
    const run = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: {}, headers: { "x-aurum-tenant": TENANT } });
    expect(run.status).toBe(202);
    runId = run.json.data.run_id ?? run.json.data.id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  const form = new URLSearchParams({ tenant_id: TENANT, name: "forged" }).toString();
  const simpleTypes: [string, string][] = [
    ["application/x-www-form-urlencoded", form],
    ["multipart/form-data; boundary=x", `--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nforged\r\n--x--\r\n`],
    ["text/plain", JSON.stringify(SCENARIO)],
    ["text/plain;charset=UTF-8", JSON.stringify(SCENARIO)],
  ];

  for (const [type, body] of simpleTypes) {
    test(`POST /v1/scenarios with ${type} (no Origin, as old browsers) is 415 and creates nothing`, async () => {
      const before = await count("scenario");
      const res = await raw("POST", "/v1/scenarios", body, { "content-type": type });
      expect(res.status).toBe(415);
      expect((await res.json()).error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
      expect(await count("scenario")).toBe(before);
    });
  }

  test("a body without any Content-Type is 415", async () => {
    const res = await raw("POST", "/v1/scenarios", new TextEncoder().encode(JSON.stringify(SCENARIO)), {});
    expect(res.status).toBe(415);
  });

  test.each([
    ["POST", "/v1/scenarios", JSON.stringify(SCENARIO), "application/json"],
    ["PATCH", "/v1/scenarios/SCENARIO", JSON.stringify({ name: "renamed by a foreign page" }), "application/json"],
    ["POST", "/v1/scenarios/SCENARIO/run", "{}", "application/json"],
    ["POST", "/v1/scenarios/runs/RUN/cancel", undefined, undefined],
    ["DELETE", "/v1/scenarios/SCENARIO", undefined, undefined],
    ["POST", "/v1/curves:import", CSV, "text/csv"],
    ["PUT", `/v1/admin/config/feature-flags/${TENANT}/scenario_outputs`, JSON.stringify({ enabled: false }), "application/json"],
  ])("%s %s with a foreign Origin is 403 and changes nothing", async (method, template, body, type) => {
    const path = template.replace("SCENARIO", scenarioId).replace("RUN", runId);
    const before = await Promise.all(["scenario", "scenario_run", "curve", "audit_log"].map((t) => count(t).catch(() => -1)));
    const scenario = (await db.sql`select name, status, version from scenario where id = ${scenarioId}`)[0];
    for (const origin of [EVIL, "null", "http://localhost.evil.example", "http://localhost:9999"]) {
      const res = await raw(method, path, body, { ...(type ? { "content-type": type } : {}), "x-aurum-tenant": TENANT, origin });
      expect(res.status).toBe(403);
      expect((await res.json()).error.message).toContain("cross-origin");
    }
    expect(await Promise.all(["scenario", "scenario_run", "curve", "audit_log"].map((t) => count(t).catch(() => -1)))).toEqual(before);
    expect((await db.sql`select name, status, version from scenario where id = ${scenarioId}`)[0]).toEqual(scenario);
  });

  test("curves:import keeps text/csv and refuses the simple types", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/json"]) {
      const res = await raw("POST", "/v1/curves:import", CSV, { "content-type": type });
      expect(res.status).toBe(415);
    }
    const ok = await raw("POST", "/v1/curves:import", CSV, { "content-type": "text/csv", origin: "http://localhost" });
    expect(ok.status).toBe(200);
  });

  test("same-origin requests (the console) and requests without Origin (curl, the CLI) work", async () => {
    const same = await raw("POST", "/v1/scenarios", JSON.stringify({ ...SCENARIO, name: "same origin" }), { "content-type": "application/json", origin: "http://localhost" });
    expect(same.status).toBe(201);
    const charset = await raw("POST", "/v1/scenarios", JSON.stringify({ ...SCENARIO, name: "json with charset" }), { "content-type": "application/json; charset=utf-8" });
    expect(charset.status).toBe(201);
    const none = await call(app, "POST", "/v1/scenarios", { body: { ...SCENARIO, name: "no origin" } });
    expect(none.status).toBe(201);
    const id = none.json.data.id;
    expect((await raw("DELETE", `/v1/scenarios/${id}`, undefined, { "x-aurum-tenant": TENANT, origin: "http://localhost" })).status).toBeLessThan(300);
  });

  test("reads are not affected by Origin (a browser keeps cross-origin answers from the page)", async () => {
    const res = await raw("GET", `/v1/scenarios/${scenarioId}`, undefined, { "x-aurum-tenant": TENANT, origin: EVIL });
    expect(res.status).toBe(200);
  });

  test("AURUM_API_ALLOWED_ORIGINS lets listed origins through, and only those", async () => {
    const post = (origin: string) =>
      allowing.handle(
        new Request("http://localhost/v1/scenarios", {
          method: "POST",
          headers: { "content-type": "application/json", origin },
          body: JSON.stringify({ ...SCENARIO, name: `from ${origin}` }),
        }),
      );
    expect((await post("https://console.example.com")).status).toBe(201);
    expect((await post("http://localhost:5173")).status).toBe(201);
    expect((await post("https://console.example.com.evil.example")).status).toBe(403);
    expect((await post("http://console.example.com")).status).toBe(403);
  });

  test("local mode on its default loopback address refuses requests addressed to other names (DNS rebinding), reads included", async () => {
    const get = (target: Awaited<ReturnType<typeof buildApp>>, host: string) =>
      target.handle(new Request(`http://${host}/v1/scenarios/${scenarioId}`, { headers: { "x-aurum-tenant": TENANT } }));
    for (const host of ["rebound.example:8095", "192.0.2.7:8095", "localhost.evil.example"]) {
      const res = await get(app, host);
      expect(res.status).toBe(403);
      expect((await res.json()).error.message).toContain("local mode answers requests addressed to localhost");
    }
    for (const host of ["localhost:8095", "127.0.0.1:8095", "[::1]:8095", "app.localhost"]) expect((await get(app, host)).status).toBe(200);
    // An allowed origin's host is served; an explicit AURUM_API_HOST turns the check off (the operator chose the exposure).
    expect((await get(allowing, "console.example.com")).status).toBe(200);
    const exposed = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_API_HOST: "0.0.0.0" });
    expect((await get(exposed, "rebound.example:8095")).status).toBe(200);
  });
});
