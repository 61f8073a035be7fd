/**
 * The Elysia ecosystem's typed client (issue 19 item 7): an Eden Treaty client built from the
 * exported `App` type calls the real app over HTTP, with bodies, params, query and responses typed
 * from the route schemas. `// @ts-expect-error` lines are type checks: `tsc -p .` fails if a
 * wrong call stopped being a type error (so the typing can fail, not only the requests).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import type { App } from "../../src/app";
import { buildApp, createTestDb, type TestDb } from "../support/app";

describe("Eden Treaty client over the exported App type", () => {
  let db: TestDb;
  let server: ReturnType<typeof Bun.serve>;
  let api: ReturnType<typeof treaty<App>>;
  const headers = { "x-aurum-tenant": "t-eden" };

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    const app = await buildApp(db);
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => app.handle(req) });
    api = treaty<App>(`http://127.0.0.1:${server.port}`, { headers });
  });
  afterAll(async () => {
    server?.stop(true);
    await db?.drop();
  });

  test("create, read, patch, list, trigger a run: typed bodies and typed responses", async () => {
    const created = await api.v1.scenarios.post({
      name: "Eden",
      assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }],
      parameters: { shock_bp: 25 },
      tags: ["typed"],
    });
    expect(created.status).toBe(201);
    // Typed: data.data is the Scenario schema (a wrong property is a compile error below).
    const scenario = created.data?.data;
    expect(scenario?.name).toBe("Eden");
    const id = scenario?.id as string;

    const read = await api.v1.scenarios({ id }).get();
    expect(read.status).toBe(200);
    expect(read.data?.data.tags).toEqual(["typed"]);
    expect(read.response.headers.get("etag")).toBe('"v1"');

    const patched = await api.v1.scenarios({ id }).patch({ description: "typed client", version: 1 });
    expect(patched.status).toBe(200);
    expect(patched.data?.data.version).toBe(2);

    const listed = await api.v1.scenarios.get({ query: { name: "Ed", limit: 5 } });
    expect(listed.data?.data.map((s) => s.id)).toContain(id);
    expect(listed.data?.meta.limit).toBe(5);

    const run = await api.v1.scenarios({ id }).run.post({ seed: 1 });
    expect([200, 202]).toContain(run.status);
    expect(run.data?.data.scenario_id).toBe(id);
  });

  test("errors come back typed as the error envelope, not thrown", async () => {
    const missing = await api.v1.scenarios({ id: crypto.randomUUID() }).get();
    expect(missing.status).toBe(404);
    expect(missing.data).toBeNull();
    const envelope = missing.error?.value as { error: { code: string } } | undefined;
    expect(envelope?.error.code).toBe("NOT_FOUND");
    const bad = await api.v1.scenarios.post({ name: "" });
    expect(bad.status).toBe(400);
  });

  test("wrong calls are type errors (checked by tsc -p .)", () => {
    const typeChecks = () => {
      // @ts-expect-error name must be a string
      void api.v1.scenarios.post({ name: 42 });
      // @ts-expect-error no such route
      void api.v1.scenariosx.get();
      // @ts-expect-error unknown query parameter type: limit is a number
      void api.v1.scenarios.get({ query: { limit: "many" } });
    };
    expect(typeof typeChecks).toBe("function");
  });
});
