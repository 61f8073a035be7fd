/**
 * The embedded worker end to end on the real Postgres: runs execute in Bun Workers and their rows
 * land exactly once; cancel, timeout, retries, dead letters and lease reclaim behave as documented.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import { createCurveRepo } from "../../src/curves/repo";
import { SAMPLE_ASOF, syntheticCurves } from "../../src/curves/sample";
import { createCurveService } from "../../src/curves/service";
import { EngineValidationError, runScenario } from "../../src/engine";
import { createMetadata } from "../../src/metadata";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import type { OutputWriter, RunOutputMeta } from "../../src/outputs/store";
import { AppError } from "../../src/platform/errors";
import { createLogger } from "../../src/platform/logger";
import type { RunRecord } from "../../src/runs/model";
import { createLocalQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { createRunStore } from "../../src/worker/run-store";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";

const tenant = { "x-aurum-tenant": "t-worker" };
const POLICY = [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }];

/** A fresh database with curves, the app and an embedded worker sharing one local queue. */
async function harness(opts: { curves?: number; months?: number; writer?: (sql: TestDb["sql"]) => OutputWriter; minuteMs?: number; concurrency?: number } = {}) {
  const db = await createTestDb("postgres");
  const curves = createCurveService(createCurveRepo(db.sql));
  if (opts.curves) await curves.loadSpecs(syntheticCurves(opts.curves), SAMPLE_ASOF, opts.months ?? 120);
  else await curves.loadSampleIfEmpty();
  const queue = createLocalQueue();
  // The API's lease (an admin's QUEUED → RUNNING) is the worker's.
  const app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1", AURUM_WORKER_LEASE_SECONDS: "3" }, queue);
  const deadLetters: { run: RunRecord; error: Record<string, unknown> }[] = [];
  const logs: Record<string, unknown>[] = [];
  const worker = await startWorker({
    mode: "embedded",
    sql: db.sql,
    metrics: createMetrics(),
    config: { ...loadConfig({}), workerConcurrency: opts.concurrency ?? 2, workerLeaseSeconds: 3, workerPollMs: 100, workerRetryBaseMs: 20 },
    log: createLogger("debug", (line) => void logs.push(JSON.parse(line))),
    queue,
    workerId: "test-worker",
    writer: opts.writer ? opts.writer(db.sql) : createPgOutputWriter(db.sql),
    executorOptions: {
      minuteMs: opts.minuteMs ?? 60_000,
      onDeadLetter: async (run, error) => void deadLetters.push({ run, error }),
    },
  });
  const scenario = async (parameters: Record<string, unknown>, name = "Worker test") =>
    (await call(app, "POST", "/v1/scenarios", { body: { name, assumptions: POLICY, parameters }, headers: tenant })).json.data.id as string;
  const trigger = async (scenarioId: string, body: Record<string, unknown> = {}) => {
    const res = await call(app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: body as never, headers: tenant });
    expect(res.status).toBe(202);
    return res.json.data as RunRecord;
  };
  const getRun = async (run: RunRecord) => (await call(app, "GET", `/v1/scenarios/${run.scenario_id}/runs/${run.id}`, { headers: tenant })).json.data as RunRecord;
  const waitFor = async (run: RunRecord, states: string[], timeoutMs = 60_000) =>
    eventually(
      async () => {
        const now = await getRun(run);
        if (!states.includes(now.state)) throw new Error(`run ${run.id} is ${now.state}`);
        return now;
      },
      { what: `run ${run.id} to be ${states.join("|")}`, timeoutMs, intervalMs: 25 },
    );
  const rowsOf = async (runId: string) => (await db.sql`select count(*)::int as n from scenario_output where run_id = ${runId}`)[0]!.n as number;
  const close = async () => {
    await worker.stop(1_000);
    await db.drop();
  };
  return { db, app, worker, deadLetters, logs, scenario, trigger, getRun, waitFor, rowsOf, close };
}

type Harness = Awaited<ReturnType<typeof harness>>;

/** Rows the engine produces for this run's inputs, computed here independently of the worker. */
async function engineRows(h: Harness, run: RunRecord): Promise<number> {
  return runScenario(await createRunStore(createMetadata(h.db.sql), "check", 1_000).engineInput(run)).rows;
}

async function duplicateKeys(h: Harness): Promise<number> {
  const [{ n }] = await h.db.sql`
    select count(*)::int as n from (select 1 from scenario_output
      group by run_id, metric, curve_key, tenor_type, contract_month having count(*) > 1) d`;
  return n;
}

describe("embedded worker: execution", () => {
  let h: Harness;
  /** What the worker told the writer about each run before its first batch. */
  const staged = new Map<string, RunOutputMeta>();
  beforeAll(async () => {
    h = await harness({
      writer: (sql) => {
        const writer = createPgOutputWriter(sql);
        return {
          ...writer,
          stage: (meta, batches) => {
            staged.set(meta.runId, meta);
            return writer.stage(meta, batches);
          },
        };
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  test("a run goes QUEUED → RUNNING → SUCCEEDED and writes exactly the engine's rows", async () => {
    const scenarioId = await h.scenario({ horizon_months: 24, mc_paths: 100 }, "Single");
    const run = await h.trigger(scenarioId, { seed: 7 });
    const done = await h.waitFor(run, ["SUCCEEDED", "FAILED"]);
    expect(done).toMatchObject({ state: "SUCCEEDED", attempts: 1, progress: 1 });
    const expected = await engineRows(h, run);
    expect(expected).toBeGreaterThan(1000);
    expect(done.rows_written).toBe(expected);
    expect(await h.rowsOf(run.id)).toBe(expected);
    // The writer knew the row total before the first batch (a run past its sort budget is staged from the start).
    expect(staged.get(run.id)?.rows).toBe(expected);
    const events = await h.db.sql`select payload->>'from' as "from", payload->>'to' as "to" from scenario_event where run_id = ${run.id} order by id`;
    expect(events.map((e) => `${e.from}→${e.to}`)).toEqual(["null→QUEUED", "QUEUED→RUNNING", "RUNNING→SUCCEEDED"]);
    const [meta] = await h.db
      .sql`select count(distinct version_hash)::int as hashes, min(tenant_id) as tenant, min(asof_date)::text as asof from scenario_output where run_id = ${run.id}`;
    expect(meta).toEqual({ hashes: 1, tenant: "t-worker", asof: SAMPLE_ASOF });
  });

  test("200 runs over 5 scenarios triggered concurrently all succeed, each with its engine row count and no duplicate rows", async () => {
    const scenarios = await Promise.all([1, 2, 3, 4, 5].map((i) => h.scenario({ horizon_months: 5 + i, mc_paths: 100 }, `Batch ${i}`)));
    const runs = await Promise.all(Array.from({ length: 200 }, (_, i) => h.trigger(scenarios[i % 5]!, { seed: 1000 + i })));
    expect(new Set(runs.map((r) => r.id)).size).toBe(200);
    // One query for all 200 until none is pending (200 pollers of their own would take the CPU the worker needs).
    const ids = h.db.sql(runs.map((r) => r.id));
    await eventually(async () => (await h.db.sql`select count(*)::int as n from scenario_run where id in ${ids} and state in ('QUEUED', 'RUNNING')`)[0]!.n === 0, {
      what: "all 200 runs to finish",
      timeoutMs: 280_000,
      intervalMs: 250,
    });
    const finished = await Promise.all(runs.map((r) => h.getRun(r)));
    expect(finished.filter((r) => r.state !== "SUCCEEDED")).toEqual([]);
    // Row counts depend on the horizon only, so one engine computation per scenario checks all its runs.
    const expectedPerScenario = new Map<string, number>();
    for (const r of runs.slice(0, 5)) expectedPerScenario.set(r.scenario_id, await engineRows(h, r));
    expect([...expectedPerScenario.values()].every((n) => n > 0)).toBe(true);
    const counts = await h.db.sql<{ run_id: string; n: number }[]>`
      select run_id::text as run_id, count(*)::int as n from scenario_output where run_id in ${h.db.sql(runs.map((r) => r.id))} group by run_id`;
    const byRun = new Map(counts.map((c) => [c.run_id, c.n]));
    for (const r of runs) expect(byRun.get(r.id)).toBe(expectedPerScenario.get(r.scenario_id));
    expect(await duplicateKeys(h)).toBe(0);
  }, 300_000);

  test("a cancel of a finished run is a 409 naming its state", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Finished");
    const run = await h.waitFor(await h.trigger(scenarioId, { seed: 5 }), ["SUCCEEDED"]);
    const res = await call(h.app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toContain("SUCCEEDED");
  });
});

describe("embedded worker: long runs (cancel, timeout)", () => {
  let h: Harness;
  // 100 curves × 240 months × 10 000 paths: several seconds of engine time per run.
  const LONG = { horizon_months: 240, mc_paths: 10_000 };
  beforeAll(async () => {
    h = await harness({ curves: 100, months: 240, minuteMs: 400, concurrency: 1 });
  });
  afterAll(async () => {
    await h?.close();
  });

  test("cancel while RUNNING → CANCELLED with zero rows, never SUCCEEDED; cancelling twice gives the same answer", async () => {
    const scenarioId = await h.scenario(LONG, "Long cancel");
    const run = await h.waitFor(await h.trigger(scenarioId, { seed: 1, timeout_minutes: 1440 }), ["RUNNING"]);
    await Bun.sleep(300); // into the engine's computation, not before it
    const first = await call(h.app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(first.status).toBe(200);
    const done = await h.waitFor(run, ["CANCELLED", "SUCCEEDED", "FAILED"]);
    expect(done.state).toBe("CANCELLED");
    expect(await h.rowsOf(run.id)).toBe(0);
    const second = await call(h.app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(second.status).toBe(200);
    expect(second.json.data.state).toBe("CANCELLED");
    expect(second.json.data.finished_at).toBe(done.finished_at);
  });

  test("a run past its timeout is FAILED with a timeout error, not retried, and dead-lettered once", async () => {
    const scenarioId = await h.scenario(LONG, "Long timeout");
    // timeout_minutes = 1 and a 400 ms test minute.
    const run = await h.trigger(scenarioId, { seed: 2, timeout_minutes: 1, max_retries: 3 });
    const done = await h.waitFor(run, ["FAILED", "SUCCEEDED", "CANCELLED"]);
    expect(done.state).toBe("FAILED");
    expect(done.attempts).toBe(1);
    expect(done.error).toMatchObject({ code: "TIMEOUT" });
    expect(await h.rowsOf(run.id)).toBe(0);
    expect(h.deadLetters.filter((d) => d.run.id === run.id)).toHaveLength(1);
  });
});

describe("embedded worker: failures, retries and leases", () => {
  let h: Harness;
  let failures = 0;
  let failWith = () => new Error("output store unavailable");
  let gate: Promise<void> | undefined;
  /** How many writes reached the gate (a test waits for its run's write to be held there). */
  let atGate = 0;
  /** The real writer, made to fail with `failWith()` while `failures` > 0 (an output store outage) and to wait while `gate` is pending. */
  const flaky = (sql: TestDb["sql"]): OutputWriter => {
    const real = createPgOutputWriter(sql);
    return {
      stage: async (meta, batches) => {
        atGate++;
        await gate;
        if (failures > 0) {
          failures--;
          throw failWith();
        }
        return real.stage(meta, batches);
      },
      deleteRun: (runId) => real.deleteRun(runId),
    };
  };
  beforeAll(async () => {
    h = await harness({ writer: flaky, concurrency: 1 });
  });
  afterAll(async () => {
    await h?.close();
  });

  test("a transient failure is retried with backoff and the run then succeeds once", async () => {
    failures = 2;
    const scenarioId = await h.scenario({ horizon_months: 12, mc_paths: 100 }, "Flaky");
    const run = await h.trigger(scenarioId, { seed: 3, max_retries: 3 });
    const done = await h.waitFor(run, ["SUCCEEDED", "FAILED"]);
    expect(done).toMatchObject({ state: "SUCCEEDED", attempts: 3 });
    expect(await h.rowsOf(run.id)).toBe(await engineRows(h, run));
    const events = await h.db.sql`select payload->>'to' as "to", payload->>'reason' as reason from scenario_event where run_id = ${run.id} order by id`;
    expect(events.map((e) => e.to)).toEqual(["QUEUED", "RUNNING", "QUEUED", "RUNNING", "QUEUED", "RUNNING", "SUCCEEDED"]);
    expect(events[2]!.reason).toMatch(/^retry in \d+ ms$/);
  });

  test("a failure beyond the retry budget ends FAILED after max_retries + 1 attempts, with one dead letter", async () => {
    failures = 100;
    const scenarioId = await h.scenario({ horizon_months: 12, mc_paths: 100 }, "Broken");
    const run = await h.trigger(scenarioId, { seed: 4, max_retries: 2 });
    const done = await h.waitFor(run, ["FAILED", "SUCCEEDED"]);
    failures = 0;
    expect(done).toMatchObject({ state: "FAILED", attempts: 3 });
    // The store's own text stays in the log; the run shows a classified code and a readable message.
    expect(done.error).toEqual({ code: "OUTPUT_WRITE_FAILED", message: expect.stringContaining("could not be written to the output store"), attempt: 3 });
    expect(h.deadLetters.filter((d) => d.run.id === run.id)).toHaveLength(1);
    expect(await h.rowsOf(run.id)).toBe(0);
  });

  test("a run whose worker died is reclaimed after its lease expires and succeeds exactly once", async () => {
    const scenarioId = await h.scenario({ horizon_months: 12, mc_paths: 100 }, "Orphan");
    // Keep the live worker's only thread busy, so the orphan is certainly claimed by the "dead" worker,
    // which then never heartbeats.
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const blocker = await h.waitFor(await h.trigger(scenarioId, { seed: 6 }), ["RUNNING"]);
    const dead = createRunStore(createMetadata(h.db.sql), "dead-worker", 3_000);
    const run = await h.trigger(scenarioId, { seed: 5 });
    const claimed = await dead.claim(run.id);
    expect(claimed?.state).toBe("RUNNING");
    gate = undefined;
    open();
    expect((await h.waitFor(blocker, ["SUCCEEDED", "FAILED"])).state).toBe("SUCCEEDED");
    const done = await h.waitFor(run, ["SUCCEEDED", "FAILED"]);
    expect(done).toMatchObject({ state: "SUCCEEDED", attempts: 2 });
    expect(await h.rowsOf(run.id)).toBe(await engineRows(h, run));
    const reasons = (await h.db.sql`select payload->>'reason' as reason from scenario_event where run_id = ${run.id} order by id`).map((e) => e.reason);
    expect(reasons).toContain("lease expired; worker presumed dead");
    // The dead worker coming back cannot commit anything: its heartbeat says stop.
    expect(await dead.heartbeat(run.id, 0.5)).toEqual({ keep: false, cancelled: false });
  });

  test("a Postgres failure while writing outputs shows OUTPUT_WRITE_FAILED and a readable message; Postgres's text is only in the log, with the run id", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Rejected rows");
    await h.db.sql.unsafe(`
      create function reject_rows() returns trigger language plpgsql as $$ begin raise exception 'tablespace pg_secret is full (injected)'; end $$;
      create trigger reject_rows before insert on scenario_output for each row when (new.scenario_id = '${scenarioId}') execute function reject_rows();`);
    try {
      const run = await h.trigger(scenarioId, { seed: 1, max_retries: 1 });
      const done = await h.waitFor(run, ["FAILED", "SUCCEEDED"]);
      expect(done).toMatchObject({ state: "FAILED", attempts: 2 });
      expect(done.error).toEqual({ code: "OUTPUT_WRITE_FAILED", message: expect.stringContaining("could not be written to the output store"), attempt: 2 });
      expect(JSON.stringify(done.error)).not.toContain("pg_secret");
      const logged = h.logs.filter((l) => l.run_id === run.id && (l.event === "scenario_run_failed" || l.event === "scenario_run_retry_scheduled"));
      expect(logged.map((l) => l.event)).toEqual(["scenario_run_retry_scheduled", "scenario_run_failed"]);
      for (const l of logged) expect(l).toMatchObject({ code: "OUTPUT_WRITE_FAILED", step: "output", error: expect.stringContaining("pg_secret is full (injected)") });
      expect(h.deadLetters.find((d) => d.run.id === run.id)?.error).toEqual(done.error as Record<string, unknown>);
    } finally {
      await h.db.sql.unsafe("drop trigger reject_rows on scenario_output; drop function reject_rows();");
    }
  });

  test("an AppError shows its own code and message; a non-retryable one fails at once, a retryable one is retried", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "App errors");
    failures = 1;
    failWith = () => new AppError("CONFLICT", "the run's curve snapshot changed; trigger it again");
    const refused = await h.waitFor(await h.trigger(scenarioId, { seed: 1, max_retries: 3 }), ["FAILED", "SUCCEEDED"]);
    expect(refused).toMatchObject({ state: "FAILED", attempts: 1, error: { code: "CONFLICT", message: "the run's curve snapshot changed; trigger it again", attempt: 1 } });
    failures = 1;
    failWith = () => new AppError("UNAVAILABLE", "the output store is restarting");
    const retried = await h.waitFor(await h.trigger(scenarioId, { seed: 2, max_retries: 3 }), ["FAILED", "SUCCEEDED"]);
    expect(retried).toMatchObject({ state: "SUCCEEDED", attempts: 2, error: null });
  });

  test("engine errors keep their readable message and are never retried (validation, and a code such as NON_FINITE_OUTPUT)", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Engine errors");
    failures = 1;
    failWith = () => Object.assign(new Error("curve PJM_W month 2027-01: value is Infinity"), { code: "NON_FINITE_OUTPUT" });
    const nonFinite = await h.waitFor(await h.trigger(scenarioId, { seed: 1, max_retries: 3 }), ["FAILED", "SUCCEEDED"]);
    expect(nonFinite).toMatchObject({ state: "FAILED", attempts: 1, error: { code: "NON_FINITE_OUTPUT", message: "curve PJM_W month 2027-01: value is Infinity" } });
    failures = 1;
    failWith = () => new EngineValidationError("invalid engine input: /asof_date: asofDate must be a date YYYY-MM-DD");
    const invalid = await h.waitFor(await h.trigger(scenarioId, { seed: 2, max_retries: 3 }), ["FAILED", "SUCCEEDED"]);
    expect(invalid).toMatchObject({
      state: "FAILED",
      attempts: 1,
      error: { code: "INVALID_INPUT", message: "invalid engine input: /asof_date: asofDate must be a date YYYY-MM-DD" },
    });
    failWith = () => new Error("output store unavailable");
  });

  test("cancel of a run whose worker died ends it CANCELLED when its lease lapses, never QUEUED again", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Dead and cancelled");
    const dead = createRunStore(createMetadata(h.db.sql), "dead-worker-2", 3_000);
    // Hold the live worker's only thread, so the run is certainly claimed by the "dead" worker.
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const blocker = await h.waitFor(await h.trigger(scenarioId, { seed: 8 }), ["RUNNING"]);
    const run = await h.trigger(scenarioId, { seed: 9 });
    expect((await dead.claim(run.id))?.state).toBe("RUNNING");
    gate = undefined;
    open();
    const cancel = await call(h.app, "POST", `/v1/scenarios/runs/${run.id}/cancel`, { headers: tenant });
    expect(cancel.json.data).toMatchObject({ state: "RUNNING", cancel_requested: true });
    const done = await h.waitFor(run, ["CANCELLED", "QUEUED", "SUCCEEDED", "FAILED"]);
    expect(done.state).toBe("CANCELLED");
    const states = (await h.db.sql`select payload->>'to' as "to" from scenario_event where run_id = ${run.id} order by id`).map((e) => e.to);
    expect(states).toEqual(["QUEUED", "RUNNING", "CANCELLED"]);
    expect(await h.rowsOf(run.id)).toBe(0);
    expect((await h.waitFor(blocker, ["SUCCEEDED", "FAILED"])).state).toBe("SUCCEEDED");
  });

  test("a run an admin moved to RUNNING holds a lease: when it lapses the run is queued again and executes; identical triggers get that run", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Admin running");
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const blocker = await h.waitFor(await h.trigger(scenarioId, { seed: 10 }), ["RUNNING"]);
    const run = await h.trigger(scenarioId, { seed: 11 });
    const moved = await call(h.app, "POST", `/v1/scenarios/runs/${run.id}/state`, { body: { state: "RUNNING", reason: "manual" }, headers: tenant });
    expect(moved.json.data.state).toBe("RUNNING");
    gate = undefined;
    open();
    const same = await call(h.app, "POST", `/v1/scenarios/${scenarioId}/run`, { body: { seed: 11 }, headers: tenant });
    expect(same.json.data.id).toBe(run.id);
    const done = await h.waitFor(run, ["SUCCEEDED", "FAILED", "CANCELLED"]);
    expect(done).toMatchObject({ state: "SUCCEEDED", attempts: 1 });
    const reasons = (await h.db.sql`select payload->>'reason' as reason from scenario_event where run_id = ${run.id} order by id`).map((e) => e.reason);
    expect(reasons).toEqual(["triggered", "manual", "lease expired; worker presumed dead", "claimed", "completed"]);
    expect((await h.waitFor(blocker, ["SUCCEEDED", "FAILED"])).state).toBe("SUCCEEDED");
  });

  test("a failure after a cancel was requested (before the heartbeat saw it) ends the run CANCELLED, not queued for a retry", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Cancelled then failed");
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    const arrived = atGate;
    const run = await h.waitFor(await h.trigger(scenarioId, { seed: 1, max_retries: 3 }), ["RUNNING"]);
    await eventually(() => atGate > arrived, { what: "the engine to finish and the write to wait at the gate" });
    failures = 1;
    // A cancel from another process: only the row says so (this process's executor is not told).
    await h.db.sql`update scenario_run set cancel_requested = true where id = ${run.id}`;
    gate = undefined;
    open();
    const done = await h.waitFor(run, ["CANCELLED", "SUCCEEDED", "FAILED"]);
    expect(done.state).toBe("CANCELLED");
    const states = (await h.db.sql`select payload->>'to' as "to" from scenario_event where run_id = ${run.id} order by id`).map((e) => e.to);
    expect(states).toEqual(["QUEUED", "RUNNING", "CANCELLED"]);
  });

  test("a value Postgres cannot store (a data exception) fails the run at once: the same rows would fail again", async () => {
    const scenarioId = await h.scenario({ horizon_months: 6, mc_paths: 100 }, "Out of range");
    await h.db.sql.unsafe(`
      create function overflow_rows() returns trigger language plpgsql as $$ begin raise exception 'numeric field overflow (injected)' using errcode = '22003'; end $$;
      create trigger overflow_rows before insert on scenario_output for each row when (new.scenario_id = '${scenarioId}') execute function overflow_rows();`);
    try {
      const run = await h.trigger(scenarioId, { seed: 1, max_retries: 3 });
      const done = await h.waitFor(run, ["FAILED", "SUCCEEDED"]);
      expect(done).toMatchObject({ state: "FAILED", attempts: 1, error: { code: "OUTPUT_WRITE_FAILED", message: expect.stringContaining("retrying would not help") } });
      expect(JSON.stringify(done.error)).not.toContain("overflow");
    } finally {
      await h.db.sql.unsafe("drop trigger overflow_rows on scenario_output; drop function overflow_rows();");
    }
  });
});
