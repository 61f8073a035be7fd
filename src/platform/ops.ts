/** Operational endpoints: liveness, readiness (the database answers) and Prometheus metrics. */
import { Elysia, t } from "elysia";
import type { Sql } from "../adapters/postgres";
import type { Metrics } from "./metrics";
import { withTimeout } from "./timers";

/** Undefined when the database answers `select 1` within 2 s, else what went wrong. */
export async function pingDatabase(sql: Sql): Promise<string | undefined> {
  try {
    await withTimeout(sql`select 1`, 2000, () => {
      throw new Error("timeout");
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function opsRoutes(deps: { sql: Sql; metrics: Metrics; isDraining: () => boolean }) {
  return new Elysia({ name: "ops" })
    .get("/healthz", () => ({ status: "ok" as const }), {
      response: { 200: t.Object({ status: t.Literal("ok") }, { description: "The process serves requests" }) },
      detail: { tags: ["ops"], summary: "Liveness" },
    })
    .get(
      "/readyz",
      async ({ set }) => {
        if (deps.isDraining()) {
          set.status = 503;
          return { status: "draining" };
        }
        const problem = await pingDatabase(deps.sql);
        if (problem === undefined) return { status: "ready", database: "ok" };
        set.status = 503;
        return { status: "unavailable", database: problem };
      },
      {
        response: {
          200: t.Object({ status: t.Literal("ready"), database: t.Literal("ok") }, { description: "Ready: the metadata database answers" }),
          503: t.Object(
            { status: t.Union([t.Literal("draining"), t.Literal("unavailable")]), database: t.Optional(t.String({ description: "What went wrong with the database." })) },
            { description: "Not ready: shutting down (draining) or the database does not answer" },
          ),
        },
        detail: { tags: ["ops"], summary: "Readiness: the metadata database answers within 2 s" },
      },
    )
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = deps.metrics.registry.contentType;
        return deps.metrics.registry.metrics();
      },
      {
        response: { 200: t.String({ description: "Prometheus text exposition format 0.0.4" }) },
        detail: { tags: ["ops"], summary: "Prometheus metrics" },
      },
    );
}
