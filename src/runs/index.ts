/** Run routes, paths exactly as the guide lists them. */
import { type DocumentDecoration, Elysia, t } from "elysia";
import type { Authenticator, Principal } from "../platform/auth";
import { AppError } from "../platform/errors";
import { customVerb, envelope, optionalJsonBody, pageEnvelope, requestInfo } from "../platform/http";
import type { Logger } from "../platform/logger";
import { headerRefs } from "../platform/openapi";
import { authPlugin } from "../platform/principal";
import { ErrorResponse, Uuid } from "../platform/schema";
import { type RunEventOptions, runEventStream, SSE_HEADERS } from "./events";
import { RunListQuery, type RunRecord, runModels, ScenarioRunOptions } from "./model";
import type { RunService } from "./service";

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } as const;

/** `scenario_run_*` events of the API's own run transitions (the worker logs the ones it makes). */
function logRunLifecycle(log: Logger | undefined, event: string, request: Request, run: RunRecord, fields: Record<string, unknown>): void {
  const info = requestInfo(request);
  log?.info(event, {
    run_id: run.id,
    scenario_id: run.scenario_id,
    tenant_id: run.tenant_id,
    state: run.state,
    ...fields,
    request_id: info.requestId,
    trace_id: run.trace_id,
  });
}

/** OpenAPI of POST /v1/scenarios/{id}/run. */
const TRIGGER_DETAIL: DocumentDecoration = {
  tags: ["runs"],
  summary: "Trigger a run (202 Accepted)",
  description:
    "Queues a run. The same `idempotency_key`, or the same fingerprint (`input_hash`) while an equal run is QUEUED, RUNNING or SUCCEEDED, returns that run with 200 and `meta.deduplicated` = `idempotency_key` or `fingerprint`. Priority CRITICAL needs the permission `runs:critical` (roles operator and admin), else 403.",
  responses: {
    200: { description: "An equal run exists (`meta.deduplicated`)", headers: headerRefs("Location") },
    202: { description: "Queued", headers: headerRefs("Location") },
  },
};

/** OpenAPI of the run event stream: not JSON, so its responses are spelled out. */
const EVENTS_DETAIL: DocumentDecoration = {
  tags: ["runs"],
  summary: "Stream a run's state (server-sent events)",
  description:
    "`text/event-stream`. An `event: run` with the run (as GET .../runs/{run_id} returns it) at once and after every change (the row is read every 500 ms), " +
    "`: ping` comments after 15 s of silence, and `event: end` (`{state}`) after a terminal state, then the stream ends. " +
    "`event: error` (`{code, message}`) ends it early: NOT_FOUND when the run is deleted, UNAVAILABLE when it cannot be read (reconnect). " +
    "Tenancy, permission (`scenarios:read`) and the 404 for an unknown or foreign run are those of GET .../runs/{run_id}. See docs/runs.md.",
  responses: {
    200: {
      description: "The event stream",
      content: { "text/event-stream": { schema: { type: "string", description: "Server-sent events: `run`, `end`, `error`; comment heartbeats." } } },
    },
    ...Object.fromEntries(Object.keys(errors).map((status) => [status, { description: "Error envelope", content: { "application/json": { schema: ErrorResponse } } }])),
  },
};

/** OpenAPI of the cancel route: its optional, ignored body. */
const CANCEL_DETAIL: DocumentDecoration = {
  tags: ["runs"],
  summary: "Cancel a run",
  description:
    "Idempotent. QUEUED → CANCELLED at once; RUNNING is aborted by its worker (`cancel_requested`), or CANCELLED at once when no worker executes it (no lease, a lapsed or an admin's lease); a finished run is a 409 naming its state. No body; a malformed one is a 400.",
  requestBody: {
    required: false,
    description: "Optional and ignored; when sent, a JSON object.",
    content: { "application/json": { schema: { type: "object" } } },
  },
};

/** GET .../runs/{run_id}/events: the run as server-sent events until it ends (src/runs/events.ts). */
async function streamRunEvents(
  deps: { runs: RunService; log?: Logger; events?: RunEventOptions },
  principal: Principal,
  params: { id: string; run_id: string },
  request: Request,
  server: { timeout(request: Request, seconds: number): void } | null,
  headers: Record<string, string>,
): Promise<Response> {
  const { runs } = deps;
  // Tenancy, permission and 404 exactly as GET .../runs/{run_id}, before the stream starts.
  const first = await runs.get(principal, params.id, params.run_id);
  const { requestId } = requestInfo(request);
  // Bun's idle timeout does not count writes; heartbeats keep proxies, not Bun, from closing.
  server?.timeout(request, 0);
  const body = runEventStream({
    first,
    read: () => runs.get(principal, params.id, params.run_id).catch((err) => (err instanceof AppError && err.status === 404 ? undefined : Promise.reject(err))),
    signal: request.signal,
    ...(deps.events ? { options: deps.events } : {}),
    onError: (err) => deps.log?.error("run_events_failed", { request_id: requestId, run_id: params.run_id, error: err instanceof Error ? err.message : String(err) }),
  });
  return new Response(body, { status: 200, headers: { ...headers, ...SSE_HEADERS, "x-request-id": requestId } });
}

export function runRoutes(deps: { authenticate: Authenticator; runs: RunService; log?: Logger; events?: RunEventOptions }) {
  const { runs } = deps;
  const runLifecycle = (event: string, request: Request, run: RunRecord, fields: Record<string, unknown>) => logRunLifecycle(deps.log, event, request, run, fields);
  return new Elysia({ name: "runs" })
    .model(runModels)
    .use(authPlugin(deps.authenticate))
    .guard({ auth: true })
    .post(
      "/v1/scenarios/:id/run",
      async ({ request, principal, params, body, set }) => {
        const info = requestInfo(request);
        const { run, deduplicated } = await runs.trigger(principal, params.id, body, info);
        deps.log?.info("scenario_run_triggered", {
          run_id: run.id,
          scenario_id: run.scenario_id,
          tenant_id: run.tenant_id,
          request_id: info.requestId,
          trace_id: run.trace_id,
          deduplicated,
        });
        set.status = deduplicated ? 200 : 202;
        set.headers.location = `/v1/scenarios/${run.scenario_id}/runs/${run.id}`;
        return envelope(request, run, { deduplicated });
      },
      {
        params: t.Object({ id: Uuid }),
        // An empty body means defaults; a malformed one is a 400 (optionalJsonBody), never defaults.
        // "json" after it never runs (the hook always answers or throws); it tells OpenAPI the body is JSON.
        parse: [optionalJsonBody, "json"],
        body: ScenarioRunOptions,
        // 409: no curve snapshot on or before the as-of date, or the scenario changed meanwhile (retry).
        response: { 200: "RunEnvelope", 202: "RunEnvelope", ...errors, 409: ErrorResponse },
        detail: TRIGGER_DETAIL,
      },
    )
    .post(
      // `runs:bulk`: Elysia reads ":bulk" as a parameter; customVerb checks it.
      "/v1/scenarios/:id/runs:verb",
      async ({ request, principal, params, body }) => {
        customVerb({ verb: params.verb }, "bulk", request);
        const results = await runs.bulk(principal, params.id, body.runs, requestInfo(request));
        return envelope(request, results, {
          created: results.filter((r) => r.status === "created").length,
          duplicates: results.filter((r) => r.status === "duplicate").length,
          failed: results.filter((r) => r.status === "failed").length,
        });
      },
      {
        params: t.Object({ id: Uuid, verb: t.String() }),
        body: "BulkRunRequest",
        response: { 200: "BulkRunEnvelope", ...errors },
        detail: {
          tags: ["runs"],
          summary: "Trigger 1..100 runs (POST /v1/scenarios/{id}/runs:bulk)",
          description:
            "Per-item result: created, duplicate (with the existing run) or failed (with the reason). Repeated idempotency keys within one request are a 400; any item with priority CRITICAL without the permission `runs:critical` makes the whole request a 403 (no run is created).",
        },
      },
    )
    .get(
      "/v1/scenarios/:id/runs",
      async ({ request, principal, params, query }) => {
        const page = await runs.list(principal, params.id, query);
        return pageEnvelope(request, page);
      },
      {
        params: t.Object({ id: Uuid }),
        query: RunListQuery,
        response: { 200: "RunListEnvelope", ...errors },
        detail: { tags: ["runs"], summary: "List a scenario's runs", description: "Newest first, keyset-paged." },
      },
    )
    .get("/v1/scenarios/:id/runs/:run_id", async ({ request, principal, params }) => envelope(request, await runs.get(principal, params.id, params.run_id)), {
      params: t.Object({ id: Uuid, run_id: Uuid }),
      response: { 200: "RunEnvelope", ...errors },
      detail: { tags: ["runs"], summary: "Get a run", description: "State, priority, attempts, progress, timings and error." },
    })
    .get(
      "/v1/scenarios/:id/runs/:run_id/events",
      async ({ request, principal, params, server, set }) => (await streamRunEvents(deps, principal, params, request, server, set.headers as Record<string, string>)) as never,
      {
        params: t.Object({ id: Uuid, run_id: Uuid }),
        detail: EVENTS_DETAIL,
      },
    )
    .post(
      "/v1/scenarios/runs/:run_id/cancel",
      async ({ request, principal, params }) => {
        const run = await runs.cancel(principal, params.run_id);
        runLifecycle("scenario_run_cancel_requested", request, run, { cancel_requested: run.cancel_requested });
        return envelope(request, run);
      },
      {
        // No body is needed; one that is sent must be a JSON object (a malformed one is a 400); its content is ignored.
        parse: optionalJsonBody,
        params: t.Object({ run_id: Uuid }),
        response: { 200: "RunEnvelope", ...errors, 409: ErrorResponse },
        detail: CANCEL_DETAIL,
      },
    )
    .post(
      "/v1/scenarios/runs/:run_id/state",
      async ({ request, principal, params, body }) => {
        const run = await runs.setState(principal, params.run_id, body.state, body.reason);
        runLifecycle("scenario_run_state_set", request, run, { reason: body.reason ?? null, by: principal.subject });
        return envelope(request, run);
      },
      {
        params: t.Object({ run_id: Uuid }),
        body: "RunStateChange",
        response: { 200: "RunEnvelope", ...errors, 409: ErrorResponse },
        detail: {
          tags: ["runs"],
          summary: "Update run state (internal/admin)",
          description:
            "Needs admin:*. Only QUEUED → RUNNING → SUCCEEDED/FAILED/CANCELLED, QUEUED → CANCELLED and RUNNING → QUEUED; anything else is a 409. FAILED records `error` = {code: ADMIN_FAILED, message: the reason, by}; RUNNING takes a lease like a worker's claim, and the run is queued again when it lapses (docs/runs.md).",
        },
      },
    );
}
