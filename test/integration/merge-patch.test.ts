/**
 * PATCH /v1/scenarios/{id} with `application/merge-patch+json` (RFC 7396): deep merges of
 * `parameters`, null deleting a key, validation after the merge, the version rules of PATCH, and
 * the content type refused on every other route. On embedded PGlite and on the real Postgres.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mergePatch } from "../../src/scenarios/service";
import { buildApp, call, createTestDb, STORES, type TestDb } from "../support/app";

const TENANT = { "x-aurum-tenant": "t-merge" };
const MERGE = { ...TENANT, "content-type": "application/merge-patch+json" };

describe("mergePatch (RFC 7396 appendix A examples)", () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [
      ["a", "b"],
      ["c", "d"],
      ["c", "d"],
    ],
    [{ a: "b" }, ["c"], ["c"]],
    [{ a: "foo" }, null, null],
    [{ a: "foo" }, "bar", "bar"],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: "b", c: null }, { a: "b" }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, result] of cases) {
    test(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(result)}`, () => {
      expect(mergePatch(target, patch)).toEqual(result);
    });
  }

  test("a __proto__ key stays a plain key and sets no prototype", () => {
    const merged = mergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect((merged as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.keys(merged)).toEqual(["__proto__"]);
  });
});

for (const store of STORES) {
  describe(`PATCH with application/merge-patch+json on ${store}`, () => {
    let db: TestDb;
    let app: Awaited<ReturnType<typeof buildApp>>;
    beforeAll(async () => {
      db = await createTestDb(store);
      app = await buildApp(db);
    });
    afterAll(async () => {
      await db?.drop();
    });

    let n = 0;
    const scenario = async (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const res = await call(app, "POST", "/v1/scenarios", {
        body: { name: `merge ${store} ${++n}`, parameters, tags: ["a", "b"], description: "first", ...extra },
        headers: TENANT,
      });
      expect(res.status).toBe(201);
      return res.json.data as { id: string; version: number; parameters: Record<string, unknown> };
    };
    const merge = (id: string, body: unknown, headers: Record<string, string> = {}) =>
      call(app, "PATCH", `/v1/scenarios/${id}`, { raw: JSON.stringify(body), headers: { ...MERGE, ...headers } });

    test("merges parameters deeply, null deletes a key, other fields untouched, version bumped, ETag returned", async () => {
      const s = await scenario({ shock_bp: 25, horizon_months: 24, notes: { owner: "ana", team: "risk" } });
      const res = await merge(s.id, { parameters: { shock_bp: 50, horizon_months: null, notes: { team: null, desk: "power" } } });
      expect(res.status).toBe(200);
      expect(res.json.data.parameters).toEqual({ shock_bp: 50, notes: { owner: "ana", desk: "power" } });
      expect(res.json.data.tags).toEqual(["a", "b"]);
      expect(res.json.data.description).toBe("first");
      expect(res.json.data.version).toBe(2);
      expect(res.headers.get("etag")).toBe('"v2"');
      // The same body as application/json replaces parameters whole (the documented default).
      const replaced = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { parameters: { shock_bp: 1 } }, headers: TENANT });
      expect(replaced.json.data.parameters).toEqual({ shock_bp: 1 });
    });

    test("arrays and strings replace; description: null clears the description; charset parameter accepted", async () => {
      const s = await scenario({ x: 1 });
      const res = await merge(s.id, { tags: ["c"], description: null, name: `renamed ${store} ${n}` }, { "content-type": "application/merge-patch+json; charset=utf-8" });
      expect(res.status).toBe(200);
      expect(res.json.data).toMatchObject({ tags: ["c"], description: null, name: `renamed ${store} ${n}`, parameters: { x: 1 } });
    });

    test("the merged scenario is validated: a merge that makes parameters invalid is a 400 and changes nothing", async () => {
      const s = await scenario({ horizon_months: 24 });
      const bad = await merge(s.id, { parameters: { horizon_months: 100_000 } });
      expect(bad.status).toBe(400);
      expect(bad.json.error.code).toBe("VALIDATION_ERROR");
      expect(bad.json.error.details).toContainEqual(expect.objectContaining({ field: "/parameters/horizon_months" }));
      const after = await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: TENANT });
      expect(after.json.data.version).toBe(1);
      expect(after.json.data.parameters).toEqual({ horizon_months: 24 });
    });

    test("negative cases: not an object, removing a required field, an unknown field, an empty patch: 400 in the envelope", async () => {
      const s = await scenario({ a: 1 });
      for (const body of [["a"], "text", 3]) {
        const res = await merge(s.id, body);
        expect(res.status).toBe(400);
        expect(res.json.error.message).toBe("a merge patch must be a JSON object");
      }
      const raw = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { raw: "{not json", headers: MERGE });
      expect(raw.status).toBe(400);
      const removing = await merge(s.id, { parameters: null, tags: null });
      expect(removing.status).toBe(400);
      expect(removing.json.error.message).toBe("a merge patch cannot remove parameters, tags");
      expect(removing.json.error.details.map((d: { field: string }) => d.field)).toEqual(["/parameters", "/tags"]);
      const unknown = await merge(s.id, { colour: "red" });
      expect(unknown.status).toBe(400);
      const empty = await merge(s.id, {});
      expect(empty.status).toBe(400);
      expect(empty.json.error.message).toBe("nothing to change");
      expect((await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: TENANT })).json.data.version).toBe(1);
    });

    test("If-Match / If-None-Match give 412 and a stale body version 409, as for JSON; a fresh one merges", async () => {
      const s = await scenario({ a: 1 });
      expect((await merge(s.id, { parameters: { b: 2 } }, { "if-match": '"v9"' })).status).toBe(412);
      expect((await merge(s.id, { parameters: { b: 2 } }, { "if-none-match": "*" })).status).toBe(412);
      const stale = await merge(s.id, { parameters: { b: 2 }, version: 7 });
      expect(stale.status).toBe(409);
      expect(stale.json.error.details).toEqual({ expected_version: 7, current_version: 1 });
      const ok = await merge(s.id, { parameters: { b: 2 }, version: 1 }, { "if-match": '"v1"' });
      expect(ok.status).toBe(200);
      expect(ok.json.data.parameters).toEqual({ a: 1, b: 2 });
      expect((await merge(crypto.randomUUID(), { parameters: { b: 2 } })).status).toBe(404);
    });

    test("concurrent unguarded merges of different keys all land: none overwrites another", async () => {
      const s = await scenario({});
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => merge(s.id, { parameters: { [`k${i}`]: i } })));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const final = (await call(app, "GET", `/v1/scenarios/${s.id}`, { headers: TENANT })).json.data;
      expect(final.parameters).toEqual({ k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5 });
      expect(final.version).toBe(7);
    });

    test("the content type is a 415 on every other route that takes a body", async () => {
      const s = await scenario({});
      const body = JSON.stringify({ name: "x" });
      for (const [method, path] of [
        ["POST", "/v1/scenarios"],
        ["POST", `/v1/scenarios/${s.id}/run`],
        ["PUT", `/v1/scenarios/${s.id}`],
        ["PATCH", `/v1/scenarios/${s.id}/runs`],
      ] as const) {
        const res = await call(app, method, path, { raw: body, headers: MERGE });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 415 });
        expect(res.json.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
      }
    });
  });
}
