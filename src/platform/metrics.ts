/**
 * Prometheus metrics: one registry per process, process metrics, the HTTP request histogram, the
 * export-slot gauges and the Trino query histogram. Alert rules and the dashboard in deploy/ name
 * these; test/integration/ops-metrics.test.ts checks every name they use exists on /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
