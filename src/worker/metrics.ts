/**
 * The worker's probe server (`AURUM_SCENARIO_METRICS_PORT`): `/metrics`, `/healthz` (the process
 * runs) and `/readyz` (the database answers and the worker is consuming). The worker's metrics
 * themselves: createRunMetrics in src/adapters/metrics.ts.
 */

import type { Metrics } from "../adapters/metrics";
import type { Sql } from "../adapters/postgres";
import { pingDatabase } from "../platform/ops";

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
