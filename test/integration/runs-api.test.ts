/** The run lifecycle API: dedupe rules, cancellation, the admin state machine and bulk triggers. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetadata } from "../../src/metadata";
import { createRunStore } from "../../src/worker/run-store";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

describe("runs API on postgres", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let scenarioId: string;
  const tenant = { "x-aurum-tenant": "t-runs" };
  const trigger = (body: Record<string, unknown> = {}, id = scenarioId) => call(app, "POST", `/v1/scenarios/${id}/run`, { body: body as never, headers: tenant });
  const setState = (runId: string, state: string) => call(app, "POST", `/v1/scenarios/runs/${runId}/state`, { body: { state, reason: "test" }, headers: tenant });

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    app = await buildApp(db);
    scenarioId = (await call(app, "POST", "/v1/scenarios", { body: { name: "Runs", parameters: { shock_bp: 25 } }, headers: tenant })).json.data.id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a trigger answers 202 with a QUEUED run, a Location, a fingerprint and an event", async () => {
    const res = await trigger({ code_version: "v1", priority: "NORMAL", seed: 1 });
    expect(res.status).toBe(202);
    const run = res.json.data;
    expect(run).toMatchObject({ state: "QUEUED", priority: "NORMAL", code_version: "v1", seed: 1, timeout_minutes: 60, max_retries: 3, attempts: 0 });
    expect(run.input_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(res.headers.get("location")).toBe(`/v1/scenarios/${scenarioId}/runs/${run.id}`);
    expect(res.json.meta.deduplicated).toBeNull();
    const events = await db.sql`select payload from scenario_event where run_id = ${run.id}`;
    expect(events.map((e) => e.payload)).toEqual([{ from: null, to: "QUEUED", by: "local-operator", reason: "triggered" }]);
    expect((await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: tenant })).json.data).toEqual(run);
  });

  test("the same inputs while QUEUED return the same run (fingerprint); options outside the fingerprint do not matter", async () => {
    const first = (await trigger({ seed: 2 })).json.data;
    const again = await trigger({ seed: 2, priority: "high", timeout_minutes: 5, environment: { pool: "b" } });
    expect(again.status).toBe(200);
    expect(again.json.meta.deduplicated).toBe("fingerprint");
    expect(again.json.data.id).toBe(first.id);
    const other = await trigger({ seed: 3 });
    expect(other.status).toBe(202);
    expect(other.json.data.id).not.toBe(first.id);
  });

  test("mc_paths below 100: a 400 on the run options, and on a scenario saved under the older rule (unless overridden)", async () => {
    for (const mc_paths of [1, 99]) {
      const res = await trigger({ seed: 40, parameters: { mc_paths } });
      expect(res.status).toBe(400);
      expect(res.json.error.details[0].field).toBe("/parameters/mc_paths");
    }
    const legacy = (await call(app, "POST", "/v1/scenarios", { body: { name: "Legacy paths" }, headers: tenant })).json.data.id as string;
    await db.sql`update scenario set parameters = '{"mc_paths": 20}'::jsonb where id = ${legacy}`;
    const refused = await trigger({ seed: 41 }, legacy);
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toContain("PATCH the scenario");
    expect(refused.json.error.details[0].field).toBe("/parameters/mc_paths");
    expect((await trigger({ seed: 41, parameters: { mc_paths: 100 } }, legacy)).status).toBe(202);
  });

  test("the same idempotency key returns the first run whatever the options", async () => {
    const first = (await trigger({ seed: 10, idempotency_key: "order-1" })).json.data;
    const again = await trigger({ seed: 11, idempotency_key: "order-1" });
    expect(again.status).toBe(200);
    expect(again.json.meta.deduplicated).toBe("idempotency_key");
    expect(again.json.data.id).toBe(first.id);
  });

  test("20 concurrent identical triggers create exactly one run", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => trigger({ seed: 77 })));
    expect(new Set(results.map((r) => r.json.data.id)).size).toBe(1);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    const [{ n }] = await db.sql`select count(*)::int as n from scenario_run where scenario_id = ${scenarioId} and seed = 77`;
    expect(n).toBe(1);
  });

  test("cancel: QUEUED → CANCELLED at once, twice gives the same answer, and the input may run again", async () => {
    const run = (await trigger({ seed: 20 })).json.data;
    const c1 = await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(c1.status).toBe(200);
    expect(c1.json.data.state).toBe("CANCELLED");
    const c2 = await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(c2.status).toBe(200);
    expect(c2.json.data).toEqual(c1.json.data);
    const rerun = await trigger({ seed: 20 });
    expect(rerun.status).toBe(202);
    expect(rerun.json.data.id).not.toBe(run.id);
  });

  test("the admin state machine allows only its transitions; cancelling a finished run is a 409 naming its state", async () => {
    const run = (await trigger({ seed: 30 })).json.data;
    const illegal = await setState(run.id, "SUCCEEDED");
    expect(illegal.status).toBe(409);
    expect(illegal.json.error.details).toEqual({ from: "QUEUED", to: "SUCCEEDED", allowed: ["RUNNING", "CANCELLED"] });
    expect((await setState(run.id, "running")).json.data).toMatchObject({ state: "RUNNING" });
    expect((await setState(run.id, "QUEUED")).json.data.state).toBe("QUEUED");
    expect((await setState(run.id, "RUNNING")).json.data.started_at).toBeString();
    const done = await setState(run.id, "SUCCEEDED");
    expect(done.json.data).toMatchObject({ state: "SUCCEEDED", progress: 1 });
    expect(done.json.data.finished_at).toBeString();
    expect((await setState(run.id, "RUNNING")).status).toBe(409);
    const cancel = await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(cancel.status).toBe(409);
    expect(cancel.json.error.message).toContain("SUCCEEDED");
    const events = await db.sql`select payload->>'from' as "from", payload->>'to' as "to" from scenario_event where run_id = ${run.id} order by id`;
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual(["null→QUEUED", "QUEUED→RUNNING", "RUNNING→QUEUED", "QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    // A succeeded run still deduplicates its fingerprint.
    const again = await trigger({ seed: 30 });
    expect(again.json.meta.deduplicated).toBe("fingerprint");
  });

  test("an admin FAILED records its reason on the run's error (a default without one), and in its event", async () => {
    const run = (await trigger({ seed: 50 })).json.data;
    const failed = await call(app, "POST", `/v1/scenarios/runs/${run.id}/state`, { body: { state: "FAILED", reason: "bad curve import" }, headers: tenant });
    expect(failed.status).toBe(409); // QUEUED → FAILED is not a transition
    await setState(run.id, "RUNNING");
    const res = await call(app, "POST", `/v1/scenarios/runs/${run.id}/state`, { body: { state: "FAILED", reason: "bad curve import" }, headers: tenant });
    expect(res.status).toBe(200);
    expect(res.json.data).toMatchObject({ state: "FAILED", error: { code: "ADMIN_FAILED", message: "bad curve import", by: "local-operator" } });
    expect((await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: tenant })).json.data.error).toEqual(res.json.data.error);
    const [event] = await db.sql`select payload from scenario_event where run_id = ${run.id} and payload->>'to' = 'FAILED'`;
    expect(event!.payload).toMatchObject({ from: "RUNNING", to: "FAILED", error: { code: "ADMIN_FAILED", message: "bad curve import" } });
    const other = (await trigger({ seed: 51 })).json.data;
    await setState(other.id, "RUNNING");
    const bare = await call(app, "POST", `/v1/scenarios/runs/${other.id}/state`, { body: { state: "FAILED" }, headers: tenant });
    expect(bare.json.data.error).toEqual({ code: "ADMIN_FAILED", message: "marked FAILED by an administrator", by: "local-operator" });
  });

  test("an admin RUNNING takes a lease like a claimed run; cancel ends it at once", async () => {
    const run = (await trigger({ seed: 52 })).json.data;
    expect((await setState(run.id, "RUNNING")).json.data.state).toBe("RUNNING");
    const [lease] = await db.sql`select lease_owner, extract(epoch from lease_expires_at - clock_timestamp())::float8 as left_s from scenario_run where id = ${run.id}`;
    expect(lease!.lease_owner).toBe("admin:local-operator");
    expect(lease!.left_s).toBeGreaterThan(20);
    expect(lease!.left_s).toBeLessThanOrEqual(30);
    const cancel = await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(cancel.status).toBe(200);
    expect(cancel.json.data).toMatchObject({ state: "CANCELLED" });
    expect(cancel.json.data.finished_at).toBeString();
  });

  test("cancel of a RUNNING run with no lease (legacy) or a lapsed one ends it CANCELLED at once; a worker's live lease only asks", async () => {
    const runningWith = async (seed: number, lease: "none" | "lapsed" | "live") => {
      const run = (await trigger({ seed })).json.data;
      await db.sql`update scenario_run set state = 'RUNNING', started_at = now(),
        lease_owner = ${lease === "none" ? null : "worker-x"},
        lease_expires_at = ${lease === "none" ? null : lease === "lapsed" ? new Date(Date.now() - 5_000) : new Date(Date.now() + 60_000)}
        where id = ${run.id}`;
      return run.id as string;
    };
    for (const lease of ["none", "lapsed"] as const) {
      const id = await runningWith(lease === "none" ? 53 : 54, lease);
      const res = await call(app, "POST", `/v1/scenarios/runs/${id}/cancel`, { headers: tenant });
      expect({ lease, status: res.status, state: res.json.data.state }).toEqual({ lease, status: 200, state: "CANCELLED" });
    }
    const live = await runningWith(55, "live");
    const res = await call(app, "POST", `/v1/scenarios/runs/${live}/cancel`, { headers: tenant });
    expect(res.json.data).toMatchObject({ state: "RUNNING", cancel_requested: true });
  });

  test("the reclaimer ends a cancel-requested run whose lease lapsed CANCELLED, and queues lapsed or lease-less runs again", async () => {
    const ids: Record<string, string> = {};
    for (const [name, seed] of [
      ["cancelled", 60],
      ["lapsed", 61],
      ["leaseless", 62],
      ["live", 63],
    ] as const) {
      ids[name] = (await trigger({ seed })).json.data.id;
    }
    await db.sql`update scenario_run set state = 'RUNNING', lease_owner = 'dead-worker', lease_expires_at = now() - interval '1 second' where id in ${db.sql([ids.cancelled!, ids.lapsed!])}`;
    await db.sql`update scenario_run set cancel_requested = true where id = ${ids.cancelled!}`;
    await db.sql`update scenario_run set state = 'RUNNING', lease_owner = null, lease_expires_at = null where id = ${ids.leaseless!}`;
    await db.sql`update scenario_run set state = 'RUNNING', lease_owner = 'alive', lease_expires_at = now() + interval '1 minute' where id = ${ids.live!}`;
    const reclaimed = await createRunStore(createMetadata(db.sql), "sweeper", 1_000).reclaimExpired();
    expect(reclaimed.sort()).toEqual([ids.cancelled!, ids.lapsed!, ids.leaseless!].sort());
    const states = await db.sql`select id::text as id, state, lease_owner from scenario_run where id in ${db.sql(Object.values(ids))}`;
    const byId = Object.fromEntries(states.map((r) => [r.id, r.state]));
    expect(byId).toEqual({ [ids.cancelled!]: "CANCELLED", [ids.lapsed!]: "QUEUED", [ids.leaseless!]: "QUEUED", [ids.live!]: "RUNNING" });
    const [event] = await db.sql`select payload from scenario_event where run_id = ${ids.cancelled!} order by id desc limit 1`;
    expect(event!.payload).toMatchObject({ from: "RUNNING", to: "CANCELLED", by: "sweeper" });
    // An identical trigger now returns the run that will execute, not a stuck one.
    const again = await trigger({ seed: 62 });
    expect(again.json.data).toMatchObject({ id: ids.leaseless, state: "QUEUED" });
  });

  test("bulk: 100 items work; one bad item fails alone; a repeated key in one request is a 400", async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ seed: 1000 + i, idempotency_key: `bulk-${i}` }));
    const res = await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, { body: { runs: items }, headers: tenant });
    expect(res.status).toBe(200);
    expect(res.json.meta).toMatchObject({ created: 100, duplicates: 0, failed: 0 });
    const again = await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, {
      body: {
        runs: [
          { seed: 1000, idempotency_key: "bulk-0" },
          { seed: 5, parameters: { mc_paths: 0 } },
          { seed: 5000 },
          { seed: 6, parameters: { mc_paths: 99 } },
          { seed: 7, parameters: { mc_paths: 100 } },
        ],
      },
      headers: tenant,
    });
    expect(again.json.data.map((r: { status: string }) => r.status)).toEqual(["duplicate", "failed", "created", "failed", "created"]);
    expect(again.json.data[0].duplicate_of).toBe(res.json.data[0].run.id);
    expect(again.json.data[1].error.details[0].field).toBe("/parameters/mc_paths");
    expect(again.json.data[3].error.details[0].field).toBe("/parameters/mc_paths");
    const dup = await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, {
      body: { runs: [{ idempotency_key: "x" }, { seed: 1 }, { idempotency_key: "x" }] },
      headers: tenant,
    });
    expect(dup.status).toBe(400);
    expect(dup.json.error.details[0].field).toBe("/runs/2/idempotency_key");
    expect((await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, { body: { runs: [] }, headers: tenant })).status).toBe(400);
    expect((await call(app, "POST", `/v1/scenarios/${scenarioId}/runs:bulk`, { body: { runs: Array.from({ length: 101 }, () => ({})) }, headers: tenant })).status).toBe(400);
  });

  test("lists runs newest first with a state filter and paging", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call(app, "GET", `/v1/scenarios/${scenarioId}/runs?state=queued&limit=30${cursor ? `&cursor=${cursor}` : ""}`, {
        headers: tenant,
      });
      expect(page.status).toBe(200);
      expect(page.json.data.every((r: { state: string }) => r.state === "QUEUED")).toBe(true);
      seen.push(...page.json.data.map((r: { id: string }) => r.id));
      cursor = page.json.meta.next_cursor;
    } while (cursor);
    const [{ n }] = await db.sql`select count(*)::int as n from scenario_run where scenario_id = ${scenarioId} and state = 'QUEUED'`;
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
  });

  test("bad options are 400s; another tenant's runs are 404s; deleting the scenario removes its runs", async () => {
    expect((await trigger({ timeout_minutes: 0 })).status).toBe(400);
    expect((await trigger({ priority: "urgent" })).status).toBe(400);
    expect((await trigger({ max_retries: 11 })).status).toBe(400);
    expect((await trigger({ parameters: { horizon_months: 10_000 } })).json.error.details[0].field).toBe("/parameters/horizon_months");
    expect((await trigger({ unknown: 1 })).status).toBe(400);
    const run = (await trigger({ seed: 40 })).json.data;
    const other = { "x-aurum-tenant": "t-other" };
    expect((await call(app, "GET", `/v1/scenarios/${scenarioId}/runs/${run.id}`, { headers: other })).status).toBe(404);
    expect((await call(app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: other })).status).toBe(404);
    expect((await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: {}, headers: other })).status).toBe(404);
    expect((await call(app, "DELETE", `/v1/scenarios/${scenarioId}`, { headers: tenant })).status).toBe(204);
    const [{ n }] = await db.sql`select count(*)::int as n from scenario_run where scenario_id = ${scenarioId}`;
    expect(n).toBe(0);
  });
});
