/**
 * Issue 18, item 10: any analyst could trigger CRITICAL runs. Priority CRITICAL now needs the
 * permission `runs:critical` (roles operator and admin); without it a trigger or a bulk request
 * asking for CRITICAL is a 403 naming the permission, and no run is created.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

describe("priority CRITICAL needs runs:critical", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let scenarioId: string;

  const bearer = async (roles: string[]) => ({
    authorization: `Bearer ${await new SignJWT({ tenant_id: "t-crit", roles }).setProtectedHeader({ alg: "ES256" }).setSubject("u").setExpirationTime("5m").sign(keys.privateKey)}`,
  });
  const runCount = async () => (await db.sql`select count(*)::int as n from scenario_run where scenario_id = ${scenarioId}`)[0]!.n as number;

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    keys = await generateKeyPair("ES256");
    app = await buildApp(db, { AURUM_API_AUTH_PUBLIC_KEY: await exportSPKI(keys.publicKey) });
    scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Critical" }, headers: await bearer(["analyst"]) })).json.data.id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("an analyst asking CRITICAL (any case) gets 403 naming runs:critical; no run is created", async () => {
    const analyst = await bearer(["analyst"]);
    for (const priority of ["CRITICAL", "critical", "Critical"]) {
      const res = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { priority, seed: 1 }, headers: analyst });
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe("FORBIDDEN");
      expect(res.json.error.message).toContain("runs:critical");
    }
    expect(await runCount()).toBe(0);
    // The same analyst may still use every other priority.
    for (const [i, priority] of ["LOW", "NORMAL", "HIGH"].entries()) {
      expect((await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { priority, seed: 10 + i }, headers: analyst })).status).toBe(202);
    }
  });

  test("a bulk request with one CRITICAL item is refused whole for an analyst", async () => {
    const before = await runCount();
    const runs = [{ seed: 20 }, { seed: 21, priority: "CRITICAL" }, { seed: 22 }];
    const res = await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, { body: { runs }, headers: await bearer(["analyst"]) });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toContain("runs:critical");
    expect(await runCount()).toBe(before);
  });

  test("operator, admin and a direct runs:critical grant may trigger CRITICAL", async () => {
    for (const [i, roles] of [["operator"], ["admin"], ["scenarios:run", "runs:critical"]].entries()) {
      const res = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { priority: "CRITICAL", seed: 30 + i }, headers: await bearer(roles) });
      expect(res.status).toBe(202);
      expect(res.json.data.priority).toBe("CRITICAL");
    }
    const bulk = await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, { body: { runs: [{ seed: 40, priority: "critical" }] }, headers: await bearer(["operator"]) });
    expect(bulk.status).toBe(200);
    expect(bulk.json.data[0].status).toBe("created");
  });
});
