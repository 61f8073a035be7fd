/**
 * The guide's `scenario_*` structured log events (issue 19 item 9): a scenario created, updated and
 * deleted, and a run triggered, started, succeeded, cancel-requested, set by an admin and cancelled
 * each write one JSON log line with the ids to follow it (request_id from the API, trace_id, run and
 * scenario ids, tenant). The API and an embedded worker share one captured logger, on Postgres.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import type { App } from "../../src/app";
import { loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import { createLogger } from "../../src/platform/logger";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { apiApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";

const TENANT = "t-lifecycle";
const POLICY = [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }];
type Line = Record<string, unknown> & { event: string };

describe("scenario_* lifecycle log events", () => {
  let db: TestDb;
  let app: App;
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  const lines: Line[] = [];
  const headers = (requestId: string) => ({ "x-aurum-tenant": TENANT, "x-request-id": requestId });
  const events = (event: string) => lines.filter((l) => l.event === event);
  const waitForEvent = (event: string, match: (l: Line) => boolean) =>
    eventually(
      () => {
        const found = lines.find((l) => l.event === event && match(l));
        if (!found) throw new Error(`saw ${lines.map((l) => l.event).join(", ")}`);
        return found;
      },
      { what: `a ${event} line` },
    );

  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
    const log = createLogger("info", (line) => void lines.push(JSON.parse(line)));
    const config = loadConfig({ AURUM_API_AUTH_DISABLED: "1", AURUM_LOG_LEVEL: "info" });
    const queue = createLocalQueue();
    app = await apiApp(db, config, { log, queue });
    worker = await startWorker({
      mode: "embedded",
      sql: db.sql,
      metrics: createMetrics(),
      writer: createPgOutputWriter(db.sql),
      config: { ...loadConfig({}), workerConcurrency: 1, workerLeaseSeconds: 3, workerPollMs: 100, workerRetryBaseMs: 20 },
      log,
      queue,
      workerId: "lifecycle-worker",
    });
  }, 180_000);
  afterAll(async () => {
    await worker?.stop(1_000);
    await db?.drop();
  });

  test("create, update, trigger, start, succeed, cancel request, admin state, delete: one line each with its ids", async () => {
    const created = await call(app, "POST", "/v1/scenarios", {
      body: { name: "Logged", assumptions: POLICY, parameters: { horizon_months: 6, mc_paths: 100 } },
      headers: headers("req-create"),
    });
    expect(created.status).toBe(201);
    const id = created.json.data.id as string;
    expect(events("scenario_created")).toEqual([expect.objectContaining({ level: "info", scenario_id: id, tenant_id: TENANT, version: 1, request_id: "req-create" })]);

    expect((await call(app, "PATCH", `/v1/scenarios/${id}`, { body: { tags: ["x"] }, headers: headers("req-update") })).status).toBe(200);
    expect(events("scenario_updated")).toEqual([expect.objectContaining({ scenario_id: id, tenant_id: TENANT, version: 2, fields: ["tags"], request_id: "req-update" })]);

    const triggered = await call(app, "POST", `/v1/scenarios/${id}/run`, { body: {}, headers: headers("req-run") });
    expect(triggered.status).toBe(202);
    const run = triggered.json.data as { id: string; trace_id: string };
    expect(events("scenario_run_triggered")).toEqual([
      expect.objectContaining({ run_id: run.id, scenario_id: id, tenant_id: TENANT, request_id: "req-run", trace_id: run.trace_id, deduplicated: null }),
    ]);
    expect(await waitForEvent("scenario_run_started", (l) => l.run_id === run.id)).toMatchObject({ scenario_id: id, tenant_id: TENANT, trace_id: run.trace_id });
    expect(await waitForEvent("scenario_run_succeeded", (l) => l.run_id === run.id)).toMatchObject({ trace_id: run.trace_id, rows: expect.any(Number) });

    // With the worker stopped a new run stays QUEUED: the API cancels it at once, and an admin moves another.
    await worker?.stop(1_000);
    worker = undefined;
    const queued = (await call(app, "POST", `/v1/scenarios/${id}/run`, { body: { seed: 2 }, headers: headers("req-run-2") })).json.data as { id: string };
    expect((await call(app, "POST", `/v1/scenarios/runs/${queued.id}/cancel`, { headers: headers("req-cancel") })).status).toBe(200);
    expect(events("scenario_run_cancel_requested")).toEqual([
      expect.objectContaining({ run_id: queued.id, scenario_id: id, tenant_id: TENANT, state: "CANCELLED", request_id: "req-cancel" }),
    ]);
    const another = (await call(app, "POST", `/v1/scenarios/${id}/run`, { body: { seed: 3 }, headers: headers("req-run-3") })).json.data as { id: string };
    const set = await call(app, "POST", `/v1/scenarios/runs/${another.id}/state`, { body: { state: "CANCELLED", reason: "operator" }, headers: headers("req-state") });
    expect(set.status).toBe(200);
    expect(events("scenario_run_state_set")).toEqual([
      expect.objectContaining({ run_id: another.id, scenario_id: id, tenant_id: TENANT, state: "CANCELLED", reason: "operator", by: "local-operator", request_id: "req-state" }),
    ]);

    expect((await call(app, "DELETE", `/v1/scenarios/${id}`, { headers: headers("req-delete") })).status).toBe(204);
    expect(events("scenario_deleted")).toEqual([expect.objectContaining({ scenario_id: id, tenant_id: TENANT, request_id: "req-delete" })]);
  }, 120_000);

  test("every scenario_* event the code logs is listed in docs/operations.md, and every listed one is logged", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { Glob } = await import("bun");
    const root = join(import.meta.dir, "../..");
    const logged = new Set<string>();
    for (const file of new Glob("src/**/*.ts").scanSync(root)) {
      const text = readFileSync(join(root, file), "utf8");
      for (const m of text.matchAll(/(?:\.(?:info|warn|error|debug)|lifecycle|runLifecycle)\(\s*"(scenario_[a-z_]+)"/g)) logged.add(m[1] as string);
    }
    const doc = readFileSync(join(root, "docs/operations.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Log events"), doc.indexOf("\n## ", doc.indexOf("## Log events") + 5));
    const documented = new Set([...section.matchAll(/^\| `(scenario_[a-z_]+)` \|/gm)].map((m) => m[1] as string));
    expect(logged.size).toBeGreaterThan(8);
    expect([...documented].sort()).toEqual([...logged].sort());
  });
});
