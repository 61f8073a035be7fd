/**
 * Issue 18, item 10: one tenant's bulk of 100 CRITICAL runs kept another tenant's NORMAL run
 * QUEUED for over a minute (claims were priority, then age, across all tenants). Claims are now
 * fair across tenants: this replays a dispatcher of N worker threads against the real Postgres
 * (the same nextQueued + claim the embedded dispatcher uses; a thread finishes its oldest run
 * before the next claim) and asserts where the other tenant's run lands in the claim order.
 * Kafka mode gets messages in partition order; its claim check (claimFair) defers a busy tenant's
 * run instead, which the second suite replays the same way, messages in outbox order.
 * No wall-clock bounds: only the order of claims.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/adapters/metrics";
import { loadConfig } from "../../src/config";
import { createMetadata } from "../../src/metadata";
import { createPgOutputWriter } from "../../src/outputs/pg-store";
import { createLogger } from "../../src/platform/logger";
import { createOutboxRepo } from "../../src/runs/outbox";
import { createLocalQueue, createOutboxQueue, type OutboxQueue } from "../../src/runs/queue";
import { startWorker } from "../../src/worker";
import { createRunStore } from "../../src/worker/run-store";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";
import { eventually } from "../support/eventually";

const BULKY = { "x-aurum-tenant": "t-bulky" };
const OTHER = { "x-aurum-tenant": "t-other" };
const BULK = 100;

describe("claims are fair across tenants", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let bulkyScenario: string;
  let otherScenario: string;

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    app = await buildApp(db);
    bulkyScenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "Bulky" }, headers: BULKY })).json.data.id;
    otherScenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "Other" }, headers: OTHER })).json.data.id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** A fresh queue: the bulky tenant's 100 CRITICAL runs, then one NORMAL run of the other tenant. */
  async function flood(seedBase: number): Promise<{ bulky: Set<string>; other: string }> {
    await db.sql`delete from scenario_run`;
    const runs = Array.from({ length: BULK }, (_, i) => ({ priority: "CRITICAL", seed: seedBase + i }));
    const res = await call(app, "POST", `/v1/scenarios/${bulkyScenario}/runs:bulk`, { body: { runs }, headers: BULKY });
    expect(res.status).toBe(200);
    const bulky = new Set<string>(res.json.data.map((r: { status: string; run: { id: string } }) => r.run.id));
    expect(bulky.size).toBe(BULK);
    const other = await call(app, "POST", `/v1/scenarios/${otherScenario}/run`, { body: { priority: "NORMAL", seed: seedBase }, headers: OTHER });
    expect(other.status).toBe(202);
    return { bulky, other: other.json.data.id };
  }

  /**
   * Claims the way the embedded dispatcher does with `threads` engine threads: fill every free
   * thread, then the oldest running run finishes, and so on. Returns the claim order (run ids).
   */
  async function dispatch(threads: number, until: string): Promise<string[]> {
    const store = createRunStore(createMetadata(db.sql), "fair-test", 60_000);
    const order: string[] = [];
    const running: string[] = [];
    for (let guard = 0; guard < BULK + 10; guard++) {
      while (running.length < threads) {
        const id = await store.nextQueued();
        const run = id ? await store.claim(id) : undefined;
        if (!run) break;
        order.push(run.id);
        running.push(run.id);
        if (run.id === until) return order;
      }
      const done = running.shift();
      if (!done) break;
      await db.sql`update scenario_run set state = 'SUCCEEDED', finished_at = clock_timestamp(), lease_owner = null where id = ${done}`;
    }
    return order;
  }

  for (const threads of [1, 2, 4]) {
    test(`with ${threads} worker thread(s), the other tenant's NORMAL run is among the first ${threads + 1} claims, not behind ${BULK} CRITICAL runs`, async () => {
      const { bulky, other } = await flood(1000 * threads);
      const order = await dispatch(threads, other);
      const position = order.indexOf(other) + 1;
      console.log(`embedded, ${threads} thread(s): the other tenant's run is claim ${position} of ${BULK + 1}`);
      expect(position).toBeGreaterThan(0);
      // At most one run per worker thread of the bulky tenant goes first.
      expect(position).toBeLessThanOrEqual(threads + 1);
      expect(order.slice(0, position - 1).every((id) => bulky.has(id))).toBe(true);
    });
  }

  test("within one tenant, priority then age still decide", async () => {
    await db.sql`delete from scenario_run`;
    const low = (await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { priority: "LOW", seed: 1 }, headers: BULKY })).json.data.id;
    const normal = (await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { priority: "NORMAL", seed: 2 }, headers: BULKY })).json.data.id;
    const critical = (await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { priority: "CRITICAL", seed: 3 }, headers: BULKY })).json.data.id;
    const normal2 = (await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { priority: "NORMAL", seed: 4 }, headers: BULKY })).json.data.id;
    expect(await dispatch(1, "none")).toEqual([critical, normal, normal2, low]);
  });

  /** One run of `scenario`, triggered through the API; its id. */
  const trigger = async (scenario: string, headers: Record<string, string>, priority: string, seed: number) =>
    (await call(app, "POST", `/v1/scenarios/${scenario}/run`, { body: { priority, seed }, headers })).json.data.id as string;

  test("a tenant offers its first due run, past deferred ones; a tenant with none due (deferred, or cancel requested) offers nothing", async () => {
    await db.sql`delete from scenario_run`;
    const deferredCritical = await trigger(bulkyScenario, BULKY, "CRITICAL", 20);
    const dueLow = await trigger(bulkyScenario, BULKY, "LOW", 21);
    const otherDeferred = await trigger(otherScenario, OTHER, "CRITICAL", 22);
    const otherCancelled = await trigger(otherScenario, OTHER, "NORMAL", 23);
    // What a retry's backoff or a hand-back leaves (next_attempt_at ahead), and a cancel not yet carried out.
    await db.sql`update scenario_run set next_attempt_at = clock_timestamp() + interval '1 hour' where id in ${db.sql([deferredCritical, otherDeferred])}`;
    await db.sql`update scenario_run set cancel_requested = true where id = ${otherCancelled}`;
    expect(await dispatch(1, "none")).toEqual([dueLow]);
    await db.sql`update scenario_run set next_attempt_at = clock_timestamp() where id in ${db.sql([deferredCritical, otherDeferred])}`;
    expect(await dispatch(1, "none")).toEqual([otherDeferred, deferredCritical]);
  });

  test("two busy tenants alternate, each by its own priority order", async () => {
    await db.sql`delete from scenario_run`;
    const a: string[] = [];
    const b: string[] = [];
    for (let i = 0; i < 3; i++)
      a.push((await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { priority: "CRITICAL", seed: 10 + i }, headers: BULKY })).json.data.id);
    for (let i = 0; i < 3; i++) b.push((await call(app, "POST", `/v1/scenarios/${otherScenario}/run`, { body: { priority: "LOW", seed: 10 + i }, headers: OTHER })).json.data.id);
    const order = await dispatch(1, "none");
    // The earlier-served tenant waits for the other: A, B, A, B, A, B.
    expect(order).toEqual([a[0], b[0], a[1], b[1], a[2], b[2]]);
  });

  test("a claim takes a run that another open transaction only refers to (an event being inserted), and skips one it is changing for the run behind it", async () => {
    await db.sql`delete from scenario_run`;
    const referred = await trigger(otherScenario, OTHER, "NORMAL", 30);
    const changing = await trigger(otherScenario, OTHER, "NORMAL", 31);
    const behind = await trigger(otherScenario, OTHER, "NORMAL", 32);
    const store = createRunStore(createMetadata(db.sql), "lock-test", 60_000);
    const other = await db.sql.reserve();
    try {
      // An event row for the run: its foreign key check holds the run's row `for key share` until commit.
      await other`begin`;
      await other`insert into scenario_event (tenant_id, scenario_id, run_id, event_type) values (${OTHER["x-aurum-tenant"]}, ${otherScenario}, ${referred}, 'lock_test')`;
      expect((await store.claim(referred))?.state).toBe("RUNNING");
      await other`rollback`;
      // The negative case: a transaction changing the run holds it; the claim skips it instead of waiting.
      await other`begin`;
      await other`update scenario_run set updated_at = clock_timestamp() where id = ${changing}`;
      expect(await store.claim(changing)).toBeUndefined();
      // Passed over, the run behind it is offered: one locked run holds up no other.
      expect(await store.nextQueued()).toBe(changing);
      expect(await store.nextQueued([changing])).toBe(behind);
      await other`rollback`;
      expect((await store.claim(changing))?.state).toBe("RUNNING");
    } finally {
      await other`rollback`.catch(() => {});
      other.release();
    }
  });
});

describe("Kafka mode's claim check defers a busy tenant's runs", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let bulkyScenario: string;
  let otherScenario: string;
  let queue: OutboxQueue;

  beforeAll(async () => {
    db = await createTestDb("postgres", { sampleCurves: true });
    queue = createOutboxQueue(createOutboxRepo(db.sql));
    app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
    bulkyScenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "Bulky" }, headers: BULKY })).json.data.id;
    otherScenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "Other" }, headers: OTHER })).json.data.id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  /** The request messages so far, in outbox order (one partition: the worst case). */
  const messages = async () => (await db.sql<{ run_id: string }[]>`select run_id::text as run_id from run_outbox order by id`).map((r) => r.run_id);

  /**
   * A consumer with `threads` handlers on one partition: messages in order (a deferred run's new
   * message goes to the tail), a thread finishing its oldest run when all are busy.
   */
  async function consume(threads: number, claim: (id: string) => Promise<unknown>, until: string) {
    const partition = await messages();
    const seen = partition.length;
    const order: string[] = [];
    const running: string[] = [];
    let deferred = 0;
    for (let i = 0; i < partition.length && i < 1_000; i++) {
      if (running.length >= threads) {
        const done = running.shift() as string;
        await db.sql`update scenario_run set state = 'SUCCEEDED', finished_at = clock_timestamp(), lease_owner = null where id = ${done}`;
      }
      const result = await claim(partition[i] as string);
      if (result === "deferred") {
        // Its new message (an outbox row) arrives after everything already in the partition.
        deferred++;
        expect((await messages()).length).toBe(seen + deferred);
        partition.push(partition[i] as string);
        continue;
      }
      const run = result as { id: string } | undefined;
      if (!run) continue;
      order.push(run.id);
      running.push(run.id);
      if (run.id === until) break;
    }
    return { order, deferred };
  }

  async function flood(seedBase: number) {
    await db.sql`delete from scenario_run`;
    const runs = Array.from({ length: BULK }, (_, i) => ({ priority: "CRITICAL", seed: seedBase + i }));
    expect((await call(app, "POST", `/v1/scenarios/${bulkyScenario}/runs:bulk`, { body: { runs }, headers: BULKY })).status).toBe(200);
    const other = await call(app, "POST", `/v1/scenarios/${otherScenario}/run`, { body: { priority: "NORMAL", seed: seedBase }, headers: OTHER });
    expect(other.status).toBe(202);
    return other.json.data.id as string;
  }

  test("with 2 threads, the other tenant's run behind 100 CRITICAL messages is among the first 3 claims (a plain claim makes it the 101st)", async () => {
    const other = await flood(5000);
    const plainStore = createRunStore(createMetadata(db.sql), "plain", 60_000, queue);
    const plain = await consume(2, (id) => plainStore.claim(id), other);
    expect(plain.order.indexOf(other) + 1).toBe(BULK + 1);

    const other2 = await flood(6000);
    const store = createRunStore(createMetadata(db.sql), "fair", 60_000, queue);
    const fair = await consume(2, (id) => store.claimFair(id, 0), other2);
    console.log(
      `Kafka-mode replay: the other tenant's run is claim ${fair.order.indexOf(other2) + 1} with claimFair, ${plain.order.indexOf(other) + 1} with claim; ${fair.deferred} messages deferred`,
    );
    expect(fair.order.indexOf(other2) + 1).toBeLessThanOrEqual(3);
    // The busy tenant kept a run going, and each of its runs was deferred once at most.
    expect(fair.order[0]).not.toBe(other2);
    expect(fair.deferred).toBeLessThanOrEqual(BULK);
    const [{ n }] = await db.sql`select count(*)::int as n from (select run_id from run_outbox where headers->>'request_id' like 'fair-%' group by run_id having count(*) > 1) x`;
    expect(n).toBe(0);
  });

  test("two tenants with work alternate without deferring each other (the ranking is a strict order)", async () => {
    await db.sql`delete from scenario_run`;
    const trigger = async (scenario: string, headers: Record<string, string>, seed: number) =>
      (await call(app, "POST", `/v1/scenarios/${scenario}/run`, { body: { seed }, headers })).json.data.id as string;
    const a = [await trigger(bulkyScenario, BULKY, 7001), await trigger(bulkyScenario, BULKY, 7002)];
    const b = [await trigger(otherScenario, OTHER, 7001), await trigger(otherScenario, OTHER, 7002)];
    const store = createRunStore(createMetadata(db.sql), "fair", 60_000, queue);
    for (const id of [a[0], b[0], a[1], b[1]]) expect(((await store.claimFair(id as string, 0)) as { id: string }).id).toBe(id as string);
  });

  test("a run is deferred at most maxDeferrals times, then claimed (another tenant's run that never arrives costs a bounded number of messages)", async () => {
    await db.sql`delete from scenario_run`;
    const a = [0, 1].map(async (i) => (await call(app, "POST", `/v1/scenarios/${bulkyScenario}/run`, { body: { seed: 9000 + i }, headers: BULKY })).json.data.id as string);
    const [a1, a2] = await Promise.all(a);
    // The other tenant's run is queued, but its message is never consumed here.
    expect((await call(app, "POST", `/v1/scenarios/${otherScenario}/run`, { body: { seed: 9000 }, headers: OTHER })).status).toBe(202);
    const store = createRunStore(createMetadata(db.sql), "fair", 60_000, queue);
    expect((await store.claimFair(a1 as string, 0)) as { id: string }).toMatchObject({ id: a1 });
    for (let i = 0; i < 3; i++) expect(await store.claimFair(a2 as string, 0, 3)).toBe("deferred");
    expect((await store.claimFair(a2 as string, 0, 3)) as { id: string }).toMatchObject({ id: a2, state: "RUNNING" });
  });
});

describe("the embedded worker, end to end", () => {
  test("2 engine threads, 100 CRITICAL runs of one tenant queued first: the other tenant's NORMAL run is among the first 3 started", async () => {
    const db = await createTestDb("postgres", { sampleCurves: true });
    const queue = createLocalQueue();
    const app = await buildApp(db, { AURUM_API_AUTH_DISABLED: "1" }, queue);
    let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const bulky = (await call(app, "POST", "/v1/scenarios", { body: { name: "Bulky" }, headers: BULKY })).json.data.id;
      const otherScenario = (await call(app, "POST", "/v1/scenarios", { body: { name: "Other" }, headers: OTHER })).json.data.id;
      const runs = Array.from({ length: BULK }, (_, i) => ({ priority: "CRITICAL", seed: i }));
      expect((await call(app, "POST", `/v1/scenarios/${bulky}/runs:bulk`, { body: { runs }, headers: BULKY })).status).toBe(200);
      const other = (await call(app, "POST", `/v1/scenarios/${otherScenario}/run`, { body: { priority: "NORMAL" }, headers: OTHER })).json.data.id as string;
      worker = await startWorker({
        mode: "embedded",
        sql: db.sql,
        metrics: createMetrics(),
        writer: createPgOutputWriter(db.sql),
        config: { ...loadConfig({}), workerConcurrency: 2, workerPollMs: 100 },
        log: createLogger("silent"),
        queue,
        workerId: "fair-e2e",
      });
      await eventually(async () => (await db.sql<{ state: string }[]>`select state from scenario_run where id = ${other}`)[0]?.state !== "QUEUED", {
        what: "the other tenant's run to start",
        timeoutMs: 100_000,
      });
      const started = await db.sql<{ id: string }[]>`select id::text as id from scenario_run where started_at is not null order by started_at, id`;
      const position = started.findIndex((r) => r.id === other) + 1;
      console.log(`embedded worker, 2 threads: the other tenant's run started ${position} of ${started.length} started so far`);
      expect(position).toBeGreaterThan(0);
      expect(position).toBeLessThanOrEqual(3);
    } finally {
      await worker?.stop(1_000);
      await db.drop();
    }
  }, 120_000);
});
