/** Output routes: `GET /v1/scenarios/{id}/outputs` and `/compare` (JSON pages, CSV/NDJSON downloads), and `/metrics/latest`. */
import { Elysia, t } from "elysia";
import type { FeatureGate } from "../flags/service";
import type { Authenticator } from "../platform/auth";
import { AppError } from "../platform/errors";
import { envelopeResponse, requestInfo } from "../platform/http";
import type { Logger } from "../platform/logger";
import { headerRefs } from "../platform/openapi";
import { authPlugin } from "../platform/principal";
import { ErrorResponse, Uuid } from "../platform/schema";
import { CompareQuery, compareModels } from "./compare-model";
import { streamResponse } from "./http-stream";
import { LatestQuery, OutputQuery, outputModels } from "./model";
import type { ExportFormat } from "./reader";
import type { OutputService } from "./service";

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 503: ErrorResponse } as const;

/** The CSV and NDJSON media types of a `format=csv|ndjson` download, beside the JSON page. */
export const DOWNLOAD = {
  description: "A JSON page, or with `format=csv|ndjson` a download (`Content-Encoding: zstd|gzip` when accepted)",
  headers: headerRefs("Content-Disposition", "X-Aurum-Run-Id"),
  content: {
    "text/csv": { schema: { type: "string" as const, description: "RFC 4180 CSV with a header row." } },
    "application/x-ndjson": { schema: { type: "string" as const, description: "One JSON object per line, as the rows of the JSON page." } },
  },
};

export function outputRoutes(deps: {
  authenticate: Authenticator;
  outputs: OutputService;
  flags?: FeatureGate;
  log: Logger;
  /** AURUM_API_EXPORT_STALL_SECONDS in ms: a download whose client reads nothing this long is closed (0: never). */
  stallMs?: number;
}) {
  const { outputs } = deps;

  return new Elysia({ name: "outputs" })
    .model(outputModels)
    .model(compareModels)
    .use(authPlugin(deps.authenticate))
    .onTransform(async ({ request }) => {
      // Before validation: a disabled feature answers the same whatever is asked. The service checks
      // again with the scenario's own tenant (a local operator names no tenant here).
      await deps.flags?.require((await deps.authenticate(request)).tenantId, "scenario_outputs");
    })
    .guard({ auth: true })
    .get(
      "/v1/scenarios/:id/outputs",
      async ({ request, principal, params, query, server, set }) => {
        if ((query.format ?? "json").toLowerCase() === "json") {
          // The page's text is sent as is (a Response skips Elysia's response validation, which the rows passed when the page was built).
          return envelopeResponse(request, await outputs.page(principal, params.id, query)) as never;
        }
        const plan = await outputs.plan(principal, params.id, query);
        const format = plan.format as ExportFormat;
        return download(deps, { request, set, server }, params.id, format, (signal) => outputs.export({ ...plan, format }, signal), {
          tenant: plan.filter.tenantId,
          filename: `scenario-${params.id}-outputs.${format}`,
          headers: plan.runId ? { "x-aurum-run-id": plan.runId } : {},
        });
      },
      {
        params: t.Object({ id: Uuid }),
        query: OutputQuery,
        response: { 200: "OutputPageEnvelope", ...errors, 409: ErrorResponse, 429: ErrorResponse },
        detail: {
          tags: ["outputs"],
          summary: "List or export a run's outputs",
          description:
            "Rows of one run (`run_id`, default: the scenario's latest SUCCEEDED run, named in `meta.run_id` or the `X-Aurum-Run-Id` header), ordered by metric, curve_key, tenor_type, contract_month. " +
            "`format=json` (default): keyset pages in the envelope (`meta.next_cursor`, `meta.count`). `format=csv` (`text/csv`, header row, RFC 4180 quoting) and `format=ndjson` (`application/x-ndjson`) stream every matching row " +
            "(or `limit` rows) as an attachment, compressed when `Accept-Encoding` offers zstd or gzip. A failure after the first byte resets the connection (the body is never terminated); NDJSON first writes an `{\"error\": ...}` line. Downloads take export slots: beyond the server's or the tenant's share, 429 with Retry-After; a download whose client reads nothing for AURUM_API_EXPORT_STALL_SECONDS is closed. See docs/outputs.md.",
          responses: { 200: DOWNLOAD },
        },
      },
    )
    .get(
      "/v1/scenarios/:id/compare",
      async ({ request, principal, params, query, server, set }) => {
        if ((query.format ?? "json").toLowerCase() === "json") {
          return envelopeResponse(request, await outputs.compare.page(principal, params.id, query)) as never;
        }
        const plan = await outputs.compare.plan(principal, params.id, query);
        const format = plan.format as ExportFormat;
        return download(deps, { request, set, server }, params.id, format, (signal) => outputs.compare.export({ ...plan, format }, signal), {
          route: "compare",
          tenant: plan.spec.a.tenantId,
          filename: `scenario-${params.id}-compare.${format}`,
          headers: {
            "x-aurum-run-id": plan.runId,
            "x-aurum-with-run-id": plan.withRunId,
            ...(plan.withScenarioId ? { "x-aurum-with-scenario-id": plan.withScenarioId } : {}),
          },
        });
      },
      {
        params: t.Object({ id: Uuid }),
        query: CompareQuery,
        response: { 200: "ComparePageEnvelope", ...errors, 409: ErrorResponse, 429: ErrorResponse },
        detail: {
          tags: ["outputs"],
          summary: "Compare a run with another scenario's run or with its no-driver baseline",
          description:
            "Per natural key (metric, curve_key, tenor_type, contract_month; the /outputs order and keyset): `a` = the value in run a (`run_id`, default: this scenario's latest SUCCEEDED run), `b` = the value in run b, " +
            "`delta` = a − b, `delta_pct` = (a − b) / |b| as a ratio (null when b is 0 or either side is null). " +
            "`with={scenario id}`: b is that scenario's run (`with_run_id`, default: its latest SUCCEEDED run; the same scenario and run is allowed, every delta 0); the two runs are fully outer joined, so a key present in one run only is listed with the other side null. " +
            "`with=baseline`: b is the no-driver baseline of run a itself: the run's `baseline` value of the same curve, tenor and month for `mid` and `baseline`; 0 for driver effects (`uplift`, `policy_uplift`, `NPV`, `rec_cost`, `npv_per_bp` and any metric ending in `_uplift`); null for any other metric (its no-driver value is not stored). " +
            "Filters (`metric`, `curve_key`, `tenor_type`, contract months) apply to both sides. `meta.run_id`, `meta.with_run_id` and `meta.with_scenario_id` name the sides (downloads: `X-Aurum-Run-Id`, `X-Aurum-With-Run-Id`, `X-Aurum-With-Scenario-Id`). " +
            "A scenario or run of another tenant or scenario: 404; a run not SUCCEEDED, or a side with no SUCCEEDED run: 409. `format=csv|ndjson` stream like /outputs (same export slots, stall handling and compression). See docs/compare.md.",
          responses: { 200: { ...DOWNLOAD, headers: headerRefs("Content-Disposition", "X-Aurum-Run-Id", "X-Aurum-With-Run-Id", "X-Aurum-With-Scenario-Id") } },
        },
      },
    )
    .get(
      "/v1/scenarios/:id/metrics/latest",
      async ({ request, principal, params, query }) => {
        return envelopeResponse(request, await outputs.latest(principal, params.id, query)) as never;
      },
      {
        params: t.Object({ id: Uuid }),
        query: LatestQuery,
        response: { 200: t.Union([t.Ref("#/components/schemas/LatestMetricsEnvelope"), t.Ref("#/components/schemas/MetricSummaryEnvelope")]), ...errors, 409: ErrorResponse },
        detail: {
          tags: ["outputs"],
          summary: "Latest value per curve, tenor and metric, or per metric (group_by=metric)",
          description:
            'For each (curve_key, tenor, metric): the value and band of the latest SUCCEEDED run that has it (greatest as-of date, then the most recently computed), with that run and as-of date. Filters apply before the rollup (so `asof_date_to` answers "latest as of"). Keyset-paged like /outputs. With `group_by=metric`: one row per metric summarising those latest values (MetricSummary: `count` keys, `min`, `max` and `mean` of the finite values, `non_finite`, `latest_asof_date`, `run_ids`), in metric order, keyset-paged by metric; `meta.group_by` is `metric`.',
        },
      },
    );
}

/**
 * A CSV/NDJSON download of /outputs or /compare: `start` opens the export (its slot may be refused
 * with 429, Retry-After 1); the stream ends when the client leaves, stalls, or the export fails.
 */
async function download(
  deps: { log: Logger; stallMs?: number },
  ctx: { request: Request; set: { headers: Record<string, string | number> }; server: { timeout(request: Request, seconds: number): void } | null },
  scenarioId: string,
  format: ExportFormat,
  start: (signal: AbortSignal) => AsyncIterable<Uint8Array>,
  o: { route?: "compare"; tenant: string; filename: string; headers: Record<string, string> },
): Promise<never> {
  const { request, set, server } = ctx;
  const abort = new AbortController();
  // A client that leaves is also seen by the body's next write; this catches it while a selective COPY sends nothing.
  request.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const { requestId } = requestInfo(request);
  let chunks: AsyncIterable<Uint8Array>;
  try {
    chunks = start(abort.signal);
  } catch (err) {
    if (err instanceof AppError && err.code === "RATE_LIMITED") set.headers["retry-after"] = "1";
    throw err;
  }
  // Bun's idle timeout would cut a long download (it does not count writes as activity).
  server?.timeout(request, 0);
  const route = o.route ? { route: o.route } : {};
  // A Response is sent as is; the cast keeps the route's declared 200 type (the JSON envelope) for OpenAPI.
  return (await streamResponse(chunks, {
    format,
    acceptEncoding: request.headers.get("accept-encoding"),
    requestId,
    abort,
    stallMs: deps.stallMs ?? 0,
    onStall: () => deps.log.warn("output_export_stalled", { request_id: requestId, scenario_id: scenarioId, tenant: o.tenant, stall_ms: deps.stallMs, ...route }),
    headers: { "content-disposition": `attachment; filename="${o.filename}"`, "x-request-id": requestId, ...o.headers },
    onError: (err) =>
      deps.log.error("output_export_failed", { request_id: requestId, scenario_id: scenarioId, ...route, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  })) as never;
}
