/**
 * Prometheus metrics, the only module that imports prom-client: one registry per process, process
 * metrics, the HTTP request histogram, the export-slot gauges and the Trino query histogram, and
 * the implementations of the small interfaces the features report through (CacheMetrics,
 * OutboxMetrics, RateLimitMetrics, RunMetrics), as platformatic/kafka keeps prom-client at its edge.
 * Alert rules and the dashboard in deploy/ name these; test/integration/ops-metrics.test.ts checks
 * every name they use exists on /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CacheMetrics } from "../cache/metrics";
import type { RateLimitMetrics } from "../ratelimit";
import type { OutboxMetrics } from "../runs/relay";
import type { Outcome, RunMetrics } from "../worker/executor";

export type Metrics = ReturnType<typeof createMetrics>;

/** Runtime-default gauges dropped from every registry because their names end in _total. */
export const NON_COUNTER_TOTALS = ["aurum_nodejs_active_handles_total", "aurum_nodejs_active_requests_total", "aurum_nodejs_active_resources_total"];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "aurum_" });
  // prom-client's runtime defaults include three gauges named *_total (the sums of
  // aurum_nodejs_active_{handles,requests,resources}, which stay, by type). A gauge must not end in
  // _total (`promtool check metrics`), so they go: sum() the by-type gauges for the totals.
  for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
  const httpDuration = new Histogram({
    name: "aurum_http_request_duration_seconds",
    help: "HTTP request duration by route template, method and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // The output service reports its slots through `exportSlots` once the app is built (0 before).
  let exportSlots = { active: () => 0, max: 0 };
  new Gauge({
    name: "aurum_output_exports_active",
    help: "CSV/NDJSON exports streaming now in this process",
    registers: [registry],
    collect() {
      this.set(exportSlots.active());
    },
  });
  new Gauge({
    name: "aurum_output_exports_max",
    help: "CSV/NDJSON exports this process runs at once (AURUM_API_OUTPUT_EXPORTS_MAX); more get 429",
    registers: [registry],
    collect() {
      this.set(exportSlots.max);
    },
  });
  const exportBytes = new Counter({
    name: "aurum_output_export_bytes_total",
    help: "Bytes of CSV/NDJSON exports handed to clients by this process",
    registers: [registry],
  });
  const trinoQueryDuration = new Histogram({
    name: "aurum_trino_query_duration_seconds",
    help: "Trino query wall time as Trino reports it (elapsed), by final state",
    labelNames: ["state"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  return {
    registry,
    httpDuration,
    trinoQueryDuration,
    exportBytes,
    reportExportSlots(active: () => number, max: number) {
      exportSlots = { active, max };
    },
  };
}

/** The cache's counters (`aurum_scenario_cache_*`). */
export function createCacheMetrics(registry: Registry): CacheMetrics {
  const counter = (name: string, help: string) => new Counter({ name: `aurum_scenario_cache_${name}`, help, labelNames: ["kind"] as const, registers: [registry] });
  const hits = counter("hits_total", "Output/metrics reads answered from the cache, by kind");
  const misses = counter("misses_total", "Output/metrics reads that found nothing cached, by kind");
  const errors = counter("errors_total", "Output/metrics reads served from the store because the cache failed or was down, by kind");
  const waits = counter("singleflight_waits_total", "Reads that waited for an identical load already running (this process or another replica), by kind");
  const loads = counter("loads_total", "Store queries made on a cache miss, by kind");
  const lookups = new Histogram({
    name: "aurum_scenario_cache_lookup_duration_seconds",
    help: "Time of a read's cache lookup (the tenant's version and the entry under it), by kind",
    labelNames: ["kind"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
  const invalidations = new Counter({
    name: "aurum_scenario_cache_invalidations_total",
    help: "Tenant cache version bumps by reason and result (failed: the cache store was unreachable; entries expire by TTL)",
    labelNames: ["reason", "result"] as const,
    registers: [registry],
  });
  return {
    hit: (kind) => hits.inc({ kind }),
    miss: (kind) => misses.inc({ kind }),
    error: (kind) => errors.inc({ kind }),
    wait: (kind) => waits.inc({ kind }),
    load: (kind) => loads.inc({ kind }),
    lookup: (kind, seconds) => lookups.observe({ kind }, seconds),
    invalidation: (reason, result) => invalidations.inc({ reason, result }),
  };
}

/** The outbox relay's counters and backlog gauge (`aurum_outbox_*`). */
export function createOutboxMetrics(registry: Registry): OutboxMetrics {
  const registers = [registry];
  const published = new Counter({ name: "aurum_outbox_published_total", help: "Outbox rows published to Kafka by this process", registers });
  const failed = new Counter({ name: "aurum_outbox_publish_failures_total", help: "Failed outbox publish attempts (Kafka unavailable or slow)", registers });
  const backlog = new Gauge({ name: "aurum_outbox_backlog", help: "Unsent outbox rows (due or not), as last seen by this process", registers });
  return {
    published: (n) => published.inc(n),
    failed: () => failed.inc(),
    backlog: (n) => backlog.set(n),
  };
}

/** The rate limiter's decisions (`aurum_ratelimit_requests_total`); one counter per registry, however many limiters share it. */
export function createRateLimitMetrics(registry: Registry): RateLimitMetrics {
  const name = "aurum_ratelimit_requests_total";
  const outcomes =
    (registry.getSingleMetric(name) as Counter<"outcome"> | undefined) ??
    new Counter({
      name,
      help: "Rate-limit decisions: allowed, limited, or fail_open/fail_closed when the limiter store failed",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
  return { decision: (outcome) => outcomes.inc({ outcome }) };
}

/** What the worker's gauges read when scraped; the consumer gauges exist only where the source does. */
export type RunGaugeSources = {
  pool: { size: number; readonly busy: number };
  lag?: (() => Promise<number>) | undefined;
  partitions?: (() => number) | undefined;
  leaseLapsed?: (() => Promise<number>) | undefined;
  live?: (() => Promise<{ state: string; n: number }[]>) | undefined;
};

/** The worker's run counters and histogram, and the gauges of its pool, consumer and runs (`aurum_scenario_*`). */
export function createRunMetrics(registry: Registry, sources: RunGaugeSources): RunMetrics {
  const registers = [registry];
  const { pool, lag, partitions, leaseLapsed, live } = sources;
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
    finished: (outcome, seconds) => {
      runs.inc({ event: outcomeEvent[outcome] });
      duration.observe({ outcome: outcomeEvent[outcome] }, seconds);
    },
    deadLettered: () => runs.inc({ event: "dead_lettered" }),
  };
}
