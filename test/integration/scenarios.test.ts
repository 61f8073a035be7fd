/** The scenarios API end to end through app.handle, on embedded PGlite and on the real Postgres. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildApp, call, createTestDb, GUIDE_SCENARIO, STORES, type TestDb } from "../support/app";

for (const store of STORES) {
  describe(`scenarios API on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;

    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
    });
    afterAll(async () => {
      await db?.drop();
    });

    const create = (body: Record<string, unknown>, headers?: Record<string, string>) => call(app, "POST", "/v1/scenarios", { body, ...(headers ? { headers } : {}) });

    test("creates the guide's example scenario and reads it back with an ETag", async () => {
      const res = await create(GUIDE_SCENARIO);
      expect(res.status).toBe(201);
      expect(res.json.meta.request_id).toBeString();
      expect(res.json.meta.query_time_ms).toBeNumber();
      const s = res.json.data;
      expect(s).toMatchObject({ tenant_id: "demo-tenant", name: "RPS sensitivity", status: "active", version: 1, parameters: { shock_bp: 25 }, tags: ["demo", "sensitivity"] });
      expect(s.assumptions).toEqual(GUIDE_SCENARIO.assumptions);
      expect(res.headers.get("location")).toBe(`/v1/scenarios/${s.id}`);

      const got = await call(app, "GET", `/v1/scenarios/${s.id}`);
      expect(got.status).toBe(200);
      expect(got.json.data).toEqual(s);
      const etag = got.headers.get("etag") as string;
      expect(etag).toBe('"v1"');
      const cached = await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: { "if-none-match": etag } });
      expect(cached.status).toBe(304);
      expect(cached.text).toBe("");
    });

    test("echoes a client's X-Request-Id in the header and the body", async () => {
      const res = await call(app, "GET", "/v1/scenarios?limit=1", { headers: { "x-request-id": "req-abc-123" } });
      expect(res.headers.get("x-request-id")).toBe("req-abc-123");
      expect(res.json.meta.request_id).toBe("req-abc-123");
      const bad = await call(app, "GET", "/v1/nope", { headers: { "x-request-id": "req-404" } });
      expect(bad.status).toBe(404);
      expect(bad.json).toEqual({ error: { code: "NOT_FOUND", message: "no route for GET /v1/nope" }, meta: { request_id: "req-404" } });
    });

    test("accepts enum values in any case and stores them canonically", async () => {
      const res = await create({
        tenant_id: "t-enum",
        name: "Case test",
        status: "DRAFT",
        assumptions: [{ driver_type: "Load_Growth", payload: { annual_growth_pct: 2, start_year: 2027, end_year: 2035 } }],
      });
      expect(res.status).toBe(201);
      expect(res.json.data.status).toBe("draft");
      expect(res.json.data.assumptions[0].driver_type).toBe("load_growth");
      const list = await call(app, "GET", "/v1/scenarios?tenant_id=t-enum&status=Draft");
      expect(list.json.data.map((s: { name: string }) => s.name)).toEqual(["Case test"]);
    });

    test("a duplicate name within a tenant is a 409, case-insensitively; other tenants may reuse it", async () => {
      expect((await create({ tenant_id: "t-dup", name: "Fuel shock" })).status).toBe(201);
      const dup = await create({ tenant_id: "t-dup", name: "FUEL SHOCK" });
      expect(dup.status).toBe(409);
      expect(dup.json.error.code).toBe("CONFLICT");
      expect((await create({ tenant_id: "t-dup-2", name: "Fuel shock" })).status).toBe(201);
    });

    test("50 concurrent creates with the same name give exactly one 201 and 49 × 409", async () => {
      const results = await Promise.all(Array.from({ length: 50 }, () => create({ tenant_id: "t-race", name: "Race" })));
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(49);
      const [{ n }] = await db.sql`select count(*)::int as n from scenario where tenant_id = 't-race'`;
      expect(n).toBe(1);
    });

    test("filters by name substring (case-insensitive, wildcards literal), tag, status and creation window", async () => {
      const tenant = "t-filter";
      await create({ tenant_id: tenant, name: "Load growth high", tags: ["load", "high"] });
      await create({ tenant_id: tenant, name: "Load growth low", tags: ["load"], status: "archived" });
      await create({ tenant_id: tenant, name: "100% renewables_2035", tags: ["policy"] });
      const names = async (qs: string) => (await call(app, "GET", `/v1/scenarios?tenant_id=${tenant}&${qs}`)).json.data.map((s: { name: string }) => s.name).sort();
      expect(await names("name=GROWTH")).toEqual(["Load growth high", "Load growth low"]);
      expect(await names("name=100%25")).toEqual(["100% renewables_2035"]);
      expect(await names("name=_")).toEqual(["100% renewables_2035"]);
      expect(await names("tag=high")).toEqual(["Load growth high"]);
      expect(await names("tag=load&status=archived")).toEqual(["Load growth low"]);
      expect(await names("created_after=2000-01-01&created_before=2999-01-01T00:00:00Z")).toHaveLength(3);
      expect(await names("created_before=2000-01-01")).toEqual([]);
      const bad = await call(app, "GET", `/v1/scenarios?created_after=2030-01-02&created_before=2030-01-01`);
      expect(bad.status).toBe(400);
      expect(bad.json.error.details[0].field).toBe("created_after");
    });

    test("PATCH bumps the version; If-Match gives 412 and a stale version 409 when it changed meanwhile", async () => {
      const s = (await create({ tenant_id: "t-patch", name: "Patch me", parameters: { a: 1 } })).json.data;
      const p1 = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { parameters: { a: 2 }, tags: ["x"] }, headers: { "if-match": '"v1"' } });
      expect(p1.status).toBe(200);
      expect(p1.json.data).toMatchObject({ version: 2, parameters: { a: 2 }, tags: ["x"], name: "Patch me" });
      expect(p1.headers.get("etag")).toBe('"v2"');
      const stale = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: "late" }, headers: { "if-match": '"v1"' } });
      expect(stale.status).toBe(412);
      const staleVersion = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: "late", version: 1 } });
      expect(staleVersion.status).toBe(409);
      expect(staleVersion.json.error.details).toEqual({ expected_version: 1, current_version: 2 });
      const ok = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: "now", version: 2 } });
      expect(ok.json.data).toMatchObject({ version: 3, description: "now" });
      const events = await db.sql`select event_type from scenario_event where scenario_id = ${s.id} order by id`;
      expect(events.map((e) => e.event_type)).toEqual(["scenario_created", "scenario_updated", "scenario_updated"]);
    });

    test("conditional writes follow RFC 9110: strong If-Match lists and *, If-None-Match, DELETE guarded, 400 on a malformed header", async () => {
      const s = (await create({ tenant_id: "t-cond", name: "Conditional" })).json.data;
      const patch = (headers: Record<string, string>, description: string) => call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description }, headers });
      // A list holding the current tag matches; a weak tag never matches If-Match (strong comparison).
      expect((await patch({ "if-match": '"v0", "v1"' }, "list")).status).toBe(200);
      const weak = await patch({ "if-match": 'W/"v2"' }, "weak");
      expect(weak.status).toBe(412);
      expect(weak.json.error.code).toBe("PRECONDITION_FAILED");
      expect((await patch({ "if-match": "*" }, "any")).status).toBe(200);
      // If-None-Match: * on an existing resource fails; a list without the current tag holds.
      expect((await patch({ "if-none-match": "*" }, "create-only")).status).toBe(412);
      expect((await patch({ "if-none-match": 'W/"v3"' }, "weak current")).status).toBe(412);
      expect((await patch({ "if-none-match": '"v1", "v2"' }, "not current")).status).toBe(200);
      const malformed = await patch({ "if-match": "v4" }, "unquoted");
      expect(malformed.status).toBe(400);
      expect(malformed.json.error.details[0].field).toBe("If-Match");
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).json.data).toMatchObject({ version: 4, description: "not current" });
      // GET: If-None-Match uses the weak comparison, so W/"v4" revalidates.
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: { "if-none-match": 'W/"v4"' } })).status).toBe(304);
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: { "if-none-match": '"v3"' } })).status).toBe(200);
      // DELETE honours If-Match: a stale tag deletes nothing.
      const staleDelete = await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: { "if-match": '"v3"' } });
      expect(staleDelete.status).toBe(412);
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).status).toBe(200);
      expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: { "if-match": '"v4"' } })).status).toBe(204);
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).status).toBe(404);
      expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: { "if-match": "*" } })).status).toBe(404);
    });

    test("concurrent PATCHes guarded by the same version: exactly one wins", async () => {
      const s = (await create({ tenant_id: "t-patch-race", name: "Contended" })).json.data;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: `writer ${i}`, version: 1 } })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(9);
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).json.data.version).toBe(2);
    });

    test("renaming onto another scenario's name is a 409 and changes nothing", async () => {
      await create({ tenant_id: "t-rename", name: "Alpha" });
      const b = (await create({ tenant_id: "t-rename", name: "Beta" })).json.data;
      const res = await call(app, "PATCH", `/v1/scenarios/${b.id}`, { body: { name: "alpha" } });
      expect(res.status).toBe(409);
      expect((await call(app, "GET", `/v1/scenarios/${b.id}`)).json.data).toMatchObject({ name: "Beta", version: 1 });
    });

    test("DELETE removes the scenario with its runs and events; a second DELETE is a 404", async () => {
      const s = (await create({ tenant_id: "t-del", name: "Doomed" })).json.data;
      await db.sql`insert into scenario_run (scenario_id, tenant_id) values (${s.id}, 't-del')`;
      const del = await call(app, "DELETE", `/v1/scenarios/${s.id}`);
      expect(del.status).toBe(204);
      expect(del.text).toBe("");
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).status).toBe(404);
      expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`)).status).toBe(404);
      const [{ runs }] = await db.sql`select count(*)::int as runs from scenario_run where scenario_id = ${s.id}`;
      const [{ events }] = await db.sql`select count(*)::int as events from scenario_event where scenario_id = ${s.id}`;
      expect([runs, events]).toEqual([0, 0]);
    });

    test("tenant scoping in local mode: another tenant's scenario is a 404", async () => {
      const s = (await create({ tenant_id: "t-a", name: "Mine" })).json.data;
      const other = { "x-aurum-tenant": "t-b" };
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: other })).status).toBe(404);
      expect((await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { description: "x" }, headers: other })).status).toBe(404);
      expect((await call(app, "DELETE", `/v1/scenarios/${s.id}`, { headers: other })).status).toBe(404);
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: { "x-aurum-tenant": "t-a" } })).status).toBe(200);
      const list = await call(app, "GET", "/v1/scenarios?limit=200", { headers: other });
      expect(list.json.data.every((x: { tenant_id: string }) => x.tenant_id === "t-b")).toBe(true);
      const mismatch = await create({ tenant_id: "t-a", name: "Conflicting scope" }, other);
      expect(mismatch.status).toBe(400);
    });

    test("paging 1,000 scenarios with limit 7 while another client inserts returns every pre-existing row exactly once", async () => {
      const tenant = "t-paging";
      const values = Array.from({ length: 1000 }, (_, i) => ({ tenant_id: tenant, name: `bulk-${i}` }));
      await db.sql`insert into scenario ${db.sql(values)}`;
      const existing = new Set((await db.sql`select id::text as id from scenario where tenant_id = ${tenant}`).map((r) => r.id as string));
      expect(existing.size).toBe(1000);

      let inserting = true;
      let inserted = 0;
      const writer = (async () => {
        while (inserting) {
          const res = await create({ tenant_id: tenant, name: `late-${inserted}` });
          expect(res.status).toBe(201);
          inserted++;
        }
      })();

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const qs: string = `tenant_id=${tenant}&limit=7${cursor ? `&cursor=${cursor}` : ""}`;
        const page = await call(app, "GET", `/v1/scenarios?${qs}`);
        expect(page.status).toBe(200);
        expect(page.json.data.length).toBeLessThanOrEqual(7);
        seen.push(...page.json.data.map((s: { id: string }) => s.id));
        cursor = page.json.meta.next_cursor;
        pages++;
      } while (cursor);
      inserting = false;
      await writer;

      expect(inserted).toBeGreaterThan(0);
      const seenExisting = seen.filter((id) => existing.has(id));
      expect(seenExisting).toHaveLength(1000);
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBeGreaterThanOrEqual(143);
    });
  });
}
