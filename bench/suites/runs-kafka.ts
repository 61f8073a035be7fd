/**
 * runs suite, Kafka section (issue 21, item 6): runs/s and rows/s with 1 and then 2 worker
 * processes (`bun src/main.ts worker`, one engine thread each) consuming one request topic of 6
 * partitions, fed by `bun src/main.ts api` and its outbox relay, outputs in the suite's Postgres.
 * Rounds interleave: the second worker joins the group and leaves it again in every round; its
 * rebalance is not timed (a batch starts once every worker holds partitions). A batch is `runs` runs
 * over `scenarios` scenarios (the message key, so the runs spread over the partitions) triggered
 * at once, timed from the first trigger to the last SUCCEEDED.
 */
import { join } from "node:path";
import { createKafka } from "../../src/adapters/kafka";
import type { TestDb } from "../../test/support/app";
import { eventually } from "../../test/support/eventually";
import { freePort } from "../../test/support/redis";
import { consumerPartitions, kafkaModeEnv, listenEnv, serviceEnv } from "../../test/support/services";
import type { Recorder, SuiteContext } from "../lib/result";

const ROOT = join(import.meta.dir, "../..");
const PARTITIONS = 6;
const tenant = { "x-aurum-tenant": "bench", "content-type": "application/json" };

type Proc = { proc: Bun.Subprocess; port: number };
export type KafkaWorkersOptions = { runs: number; scenarios: number; shape: Record<string, unknown> };

export async function kafkaWorkers(ctx: SuiteContext, rec: Recorder, db: TestDb, o: KafkaWorkersOptions): Promise<void> {
  const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const request = `aurum.bench.request.${suffix}`;
  const dlq = `aurum.bench.dlq.${suffix}`;
  const kafka = createKafka({ brokers: (serviceEnv().AURUM_KAFKA_BROKERS ?? "").split(","), clientId: `aurum-bench-${suffix}` });
  const procs: Proc[] = [];
  const spawn = async (verb: "api" | "worker"): Promise<Proc> => {
    const port = await freePort();
    const env = kafkaModeEnv(
      { databaseUrl: db.url as string, requestTopic: request, dlqTopic: dlq, groupId: `aurum-bench-${suffix}` },
      { AURUM_LOG_LEVEL: "warn", AURUM_WORKER_CONCURRENCY: "1", ...listenEnv(verb, port) },
    );
    const p = { proc: Bun.spawn(["bun", "src/main.ts", verb], { cwd: ROOT, env, stdout: "ignore", stderr: "inherit" }), port };
    procs.push(p);
    await eventually(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok), { what: `the ${verb} process to be ready`, timeoutMs: 120_000, intervalMs: 100 });
    return p;
  };
  /** Until each of `workers` holds partitions and together they hold all of them. */
  const settled = (workers: Proc[]) =>
    eventually(
      async () => {
        const held = await Promise.all(workers.map((w) => consumerPartitions(w.port)));
        return held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === PARTITIONS;
      },
      { what: `${workers.length} worker(s) to hold all ${PARTITIONS} partitions`, timeoutMs: 120_000, intervalMs: 200 },
    );

  try {
    await kafka.ensureTopics([
      { name: request, partitions: PARTITIONS },
      { name: dlq, partitions: 1 },
    ]);
    const api = await spawn("api");
    const http = async (path: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${api.port}${path}`, { method: "POST", headers: tenant, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { data: { id: string } }).data.id;
    };
    const scenarios = await Promise.all(
      Array.from({ length: o.scenarios }, (_, i) =>
        http("/v1/scenarios", {
          name: `bench kafka ${i} ${suffix}`,
          assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2027, target: 0.5 } }],
          parameters: o.shape,
        }),
      ),
    );
    let seed = 1;
    /** Triggers `o.runs` runs at once; when all have SUCCEEDED, their runs/s and rows/s. The rows are then removed (untimed). */
    const batch = async () => {
      const t0 = performance.now();
      const ids = await Promise.all(Array.from({ length: o.runs }, (_, i) => http(`/v1/scenarios/${scenarios[i % scenarios.length]}/run`, { seed: seed++ })));
      const rows = await eventually(
        async () => {
          const [s] = await db.sql<{ open: number; failed: number; rows: number }[]>`
            select count(*) filter (where state in ('QUEUED', 'RUNNING'))::int as open,
                   count(*) filter (where state not in ('QUEUED', 'RUNNING', 'SUCCEEDED'))::int as failed,
                   coalesce(sum(rows_written), 0)::float8 as rows
            from scenario_run where id in ${db.sql(ids)}`;
          if (s?.failed) throw new Error(`${s.failed} of ${o.runs} runs did not succeed`);
          return s?.open === 0 && s.rows;
        },
        { what: `${o.runs} runs to succeed`, timeoutMs: 300_000, intervalMs: 10 },
      );
      const seconds = (performance.now() - t0) / 1000;
      await db.sql`delete from scenario_output where run_id in ${db.sql(ids)}`;
      return { runs: o.runs / seconds, rows: rows / seconds };
    };

    const first = await spawn("worker");
    await settled([first]);
    await batch(); // warm-up
    const samples = { 1: { runs: [] as number[], rows: [] as number[] }, 2: { runs: [] as number[], rows: [] as number[] } };
    for (let r = 0; r < ctx.repeats; r++) {
      await settled([first]);
      const one = await batch();
      const second = await spawn("worker");
      await settled([first, second]);
      const two = await batch();
      second.proc.kill("SIGTERM");
      await second.proc.exited;
      procs.splice(procs.indexOf(second), 1);
      for (const [n, s] of [[1, one] as const, [2, two] as const]) {
        samples[n].runs.push(s.runs);
        samples[n].rows.push(s.rows);
      }
      ctx.log(`kafka round ${r + 1}: 1 worker ${one.runs.toFixed(1)} runs/s, 2 workers ${two.runs.toFixed(1)} runs/s`);
    }
    const runs1 = rec.figure("Kafka mode, 1 worker process (1 thread): runs/s", "runs/s", samples[1].runs, "baseline");
    const runs2 = rec.figure("Kafka mode, 2 worker processes (1 thread each): runs/s", "runs/s", samples[2].runs, "project");
    const rows1 = rec.figure("Kafka mode, 1 worker process: output rows/s", "rows/s", samples[1].rows, "baseline");
    const rows2 = rec.figure("Kafka mode, 2 worker processes: output rows/s", "rows/s", samples[2].rows, "project");
    rec.ratio("Kafka mode runs/s, 2 worker processes / 1", runs2, runs1);
    rec.ratio("Kafka mode output rows/s, 2 worker processes / 1", rows2, rows1);
    rec.note(`Kafka mode: ${o.runs} runs per batch over ${o.scenarios} scenarios (${JSON.stringify(o.shape)}), ${PARTITIONS} partitions, API + relay in a third process`);
  } finally {
    for (const p of procs) p.proc.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.proc.exited));
    await kafka.deleteTopics([request, dlq]).catch(() => {});
    await kafka.close();
  }
}
