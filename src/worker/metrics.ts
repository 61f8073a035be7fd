/**
 * The worker's Prometheus metrics and its probe server (`AURUM_SCENARIO_METRICS_PORT`): `/metrics`,
 * `/healthz` (the process runs) and `/readyz` (the database answers and the worker is consuming).
 */
import { Counter, Gauge, Histogram } from "prom-client";
import { pingDatabase, type Sql } from "../adapters/postgres";
import type { Metrics } from "../platform/metrics";
import type { Outcome } from "./executor";

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createWorkerMetrics(
  metrics: Metrics,
  pool: { size: number; readonly busy: number },
  lag?: () => Promise<number>,
  partitions?: () => number,
  leaseLapsed?: () => Promise<number>,
  live?: () => Promise<{ state: string; n: number }[]>,
) {
  const registers = [metrics.registry];
  const runs = new Counter({
    name: "aurum_scenario_runs_total",
    help: "Run executions by event: started, succeeded, failed, cancelled, retried, lost (another worker owns it now), dead_lettered",
    labelNames: ["event"] as const,
    registers,
  });
  const duration = new Histogram({
    name: "aurum_scenario_run_duration_seconds",
    help: "Wall time of one run attempt (engine and output write), by outcome",
    labelNames: ["outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });
  new Gauge({
    name: "aurum_scenario_pool_utilisation_ratio",
    help: "Busy engine threads / pool size (0 to 1)",
    registers,
    collect() {
      this.set(pool.size ? pool.busy / pool.size : 0);
    },
  });
  new Gauge({ name: "aurum_scenario_pool_threads", help: "Engine threads in the pool", registers }).set(pool.size);
  if (lag) {
    new Gauge({
      name: "aurum_scenario_consumer_lag",
      help: "Messages of the request topic not yet committed by this worker's consumer group (assigned partitions)",
      registers,
      async collect() {
        this.set(await lag().catch(() => Number.NaN));
      },
    });
  }
  if (partitions) {
    new Gauge({
      name: "aurum_scenario_consumer_partitions",
      help: "Partitions of the request topic assigned to this worker (0 until it joined its consumer group)",
      registers,
      collect() {
        this.set(partitions());
      },
    });
  }
  if (leaseLapsed) {
    new Gauge({
      name: "aurum_scenario_runs_lease_lapsed",
      help: "RUNNING runs whose lease lapsed more than a lease ago (the reclaimer should have taken them back): stuck runs",
      registers,
      async collect() {
        this.set(await leaseLapsed().catch(() => Number.NaN));
      },
    });
  }
  if (live) {
    new Gauge({
      name: "aurum_scenario_runs_live",
      help: "Runs QUEUED or RUNNING now, by state (all workers and tenants, as the metadata database counts them)",
      labelNames: ["state"] as const,
      registers,
      async collect() {
        const counts = await live().catch(() => undefined);
        for (const state of ["QUEUED", "RUNNING"]) this.set({ state }, counts ? (counts.find((c) => c.state === state)?.n ?? 0) : Number.NaN);
      },
    });
  }
  const outcomeEvent: Record<Outcome, string> = { SUCCEEDED: "succeeded", FAILED: "failed", CANCELLED: "cancelled", RETRY: "retried", LOST: "lost" };
  return {
    started: () => runs.inc({ event: "started" }),
    finished: (outcome: Outcome, seconds: number) => {
      runs.inc({ event: outcomeEvent[outcome] });
      duration.observe({ outcome: outcomeEvent[outcome] }, seconds);
    },
    deadLettered: () => runs.inc({ event: "dead_lettered" }),
  };
}

export function startProbeServer(deps: { port: number; hostname: string; metrics: Metrics; sql: Sql; isReady: () => boolean }) {
  return Bun.serve({
    port: deps.port,
    hostname: deps.hostname,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/healthz") return Response.json({ status: "ok" });
      if (path === "/readyz") {
        if (!deps.isReady()) return Response.json({ status: "not_ready" }, { status: 503 });
        const problem = await pingDatabase(deps.sql);
        return problem === undefined ? Response.json({ status: "ready", database: "ok" }) : Response.json({ status: "unavailable", database: problem }, { status: 503 });
      }
      if (path === "/metrics") return new Response(await deps.metrics.registry.metrics(), { headers: { "content-type": deps.metrics.registry.contentType } });
      return Response.json({ error: { code: "NOT_FOUND", message: `no route ${path}` } }, { status: 404 });
    },
  });
}
