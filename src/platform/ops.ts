/** Operational endpoints: liveness, readiness (the database answers) and Prometheus metrics. */
import { Elysia } from "elysia";
import type { Sql } from "../adapters/postgres";
import type { Metrics } from "./metrics";

export function opsRoutes(deps: { sql: Sql; metrics: Metrics; isDraining: () => boolean }) {
  return new Elysia({ name: "ops" })
    .get("/healthz", () => ({ status: "ok" }), { detail: { tags: ["ops"], summary: "Liveness" } })
    .get(
      "/readyz",
      async ({ set }) => {
        if (deps.isDraining()) {
          set.status = 503;
          return { status: "draining" };
        }
        try {
          await Promise.race([deps.sql`select 1`, Bun.sleep(2000).then(() => Promise.reject(new Error("timeout")))]);
          return { status: "ready", database: "ok" };
        } catch (err) {
          set.status = 503;
          return { status: "unavailable", database: (err as Error).message };
        }
      },
      { detail: { tags: ["ops"], summary: "Readiness: the metadata database answers within 2 s" } },
    )
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = deps.metrics.registry.contentType;
        return deps.metrics.registry.metrics();
      },
      { detail: { tags: ["ops"], summary: "Prometheus metrics" } },
    );
}
