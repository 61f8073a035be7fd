/**
 * createApp(deps): the Elysia app assembled from feature plugins over services the composition
 * root built (src/runtime.ts); it builds none itself. Request ids, the error envelope, request
 * logs and the request-duration histogram are wired here, once.
 */
import { openapi } from "@elysiajs/openapi";
import { Elysia, ValidationError } from "elysia";
import type { Metrics } from "./adapters/metrics";
import type { Sql } from "./adapters/postgres";
import { cacheAdminRoutes } from "./cache";
import type { ScenarioCache } from "./cache/service";
import type { Config } from "./config";
import { consoleRoutes } from "./console";
import { curveRoutes } from "./curves";
import type { CurveService } from "./curves/service";
import type { RuntimeLimits } from "./flags/setup";
import { outputRoutes } from "./outputs";
import type { OutputService } from "./outputs/service";
import { createCors } from "./platform/cors";
import { DOCS_ASSETS, docsAssetRoutes } from "./platform/docs-assets";
import { AppError } from "./platform/errors";
import { beginRequest, bufferedBody, errorBody, readBodyText, requestInfo, validationIssues } from "./platform/http";
import type { Logger } from "./platform/logger";
import { createMethodIndex } from "./platform/methods";
import { publishedDocs } from "./platform/openapi";
import { opsRoutes } from "./platform/ops";
import { originGuard } from "./platform/origin";
import { registerFormats } from "./platform/schema";
import { runRoutes } from "./runs";
import type { RunEventOptions } from "./runs/events";
import type { RunService } from "./runs/service";
import { scenarioRoutes } from "./scenarios";
import type { ScenarioRepo } from "./scenarios/repo";
import type { ScenarioService } from "./scenarios/service";

export const API_VERSION = "0.1.0";

/** Everything the routes use, built by the composition root (src/runtime.ts). */
export type AppDeps = {
  config: Pick<Config, "maxBodyBytes" | "maxImportBytes" | "exportStallSeconds" | "allowedOrigins" | "corsOrigins" | "loopbackOnly">;
  /** The metadata database, for /readyz. */
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  /** The rate limiter, the /v1/admin/config routes, the feature flags and the shared per-request authenticator. */
  limits: RuntimeLimits;
  curves: CurveService;
  scenarios: ScenarioService;
  /** The scenario lookup of the cache administration routes. */
  scenarioRepo: Pick<ScenarioRepo, "get">;
  runs: RunService;
  outputs: OutputService;
  /** The output cache (docs/cache.md), for its administration routes. */
  cache: ScenarioCache;
  /** Poll and heartbeat intervals of the run event stream; undefined: the documented ones. */
  runEvents: RunEventOptions | undefined;
  /** True once shutdown began: /readyz answers 503 so load balancers stop sending traffic. */
  isDraining: () => boolean;
};

/** The OpenAPI document's own parts; the routes add their paths and schemas. */
const DOCUMENTATION: NonNullable<Parameters<typeof openapi>[0]>["documentation"] = {
  info: {
    title: "Aurum Scenarios API",
    version: API_VERSION,
    description:
      "Define energy-market scenarios, run them asynchronously and pull their outputs. Every response carries `X-Request-Id`; errors are the `ErrorResponse` envelope. " +
      "A request may be answered before it reaches a route, whatever its path: 403 (cross-origin state change; local mode addressed by a non-loopback name), 413, 415, 429 (rate limit), 503; " +
      "a path not listed here is a 404, a listed path with a method it does not list a 405 with `Allow` (components/responses).",
  },
  tags: [
    { name: "scenarios", description: "Scenario definitions" },
    { name: "runs", description: "Asynchronous scenario runs" },
    { name: "curves", description: "Baseline forward curves" },
    { name: "outputs", description: "Run outputs and latest metrics" },
    { name: "cache", description: "Output cache administration" },
    { name: "admin", description: "Runtime config: rate limits, feature flags, audit log" },
    { name: "ops", description: "Health, readiness and metrics" },
  ],
  components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
  security: [{ bearer: [] }],
};

export function createApp(deps: AppDeps) {
  registerFormats();
  const { log, metrics, scenarios, runs, curves, outputs, cache } = deps;
  const { flags, authenticate, plugin: runtimeLimits } = deps.limits;

  // Before any body is read: no foreign web page can make a browser change state (src/platform/origin.ts).
  const corsOrigins = deps.config.corsOrigins;
  const refuseCrossSite = originGuard({ allowedOrigins: [...deps.config.allowedOrigins, ...corsOrigins], loopbackOnly: deps.config.loopbackOnly });
  const cors = createCors(corsOrigins);
  const routeTable: { routes: { method: string; path: string }[] } = { routes: [] };
  const methodsOf = createMethodIndex(routeTable);

  const app = new Elysia({ normalize: false })
    .onRequest(({ request, set }) => {
      const { requestId } = beginRequest(request);
      set.headers["x-request-id"] = requestId;
      refuseCrossSite(request);
      if (request.method === "OPTIONS") {
        const allow = methodsOf(new URL(request.url).pathname);
        if (allow.length > 0) return cors.options(request, allow);
      }
      Object.assign(set.headers, cors.responseHeaders(request));
      // Bun's server adds Date to every response but a HEAD one (RFC 9110 §6.6.1: an origin with a clock sends it).
      if (request.method === "HEAD") set.headers.date = new Date().toUTCString();
      // Streamed imports have their own, larger limit; everything else is parsed in memory. A declared
      // length over the limit is refused here; a chunked body is counted as it arrives (below, limitBody).
      const limit = isStreamedImport(request) ? deps.config.maxImportBytes : deps.config.maxBodyBytes;
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > limit) throw new AppError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`);
    })
    .onError({ as: "global" }, ({ request, code, error, set }) => {
      // A path that exists with other methods: routing's NOT_FOUND becomes a 405 listing them.
      const allow = code === "NOT_FOUND" ? methodsOf(new URL(request.url).pathname) : [];
      const wrongMethod = allow.length > 0 && !allow.includes(request.method);
      const { status, body } = toErrorResponse(request, wrongMethod ? "METHOD_NOT_ALLOWED" : code, error, log);
      set.status = status;
      if (wrongMethod) set.headers.allow = allow.join(", ");
      if (status === 401) set.headers["www-authenticate"] = bearerChallenge(request, body.error.message);
      set.headers["content-type"] = "application/json";
      set.headers["x-request-id"] = requestInfo(request).requestId;
      return body;
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      const { request, set } = ctx;
      const route = (ctx as { route?: string }).route || "unmatched";
      const status = typeof set.status === "number" ? set.status : 200;
      const info = requestInfo(request);
      const ms = performance.now() - info.startedAt;
      metrics.httpDuration.observe({ method: request.method, route, status: String(status) }, ms / 1000);
      // The route's principal; or, when the route never resolved one (a 400 from validation), whom the request's authentication found.
      const principal = (ctx as { principal?: { tenantId: string | null } }).principal ?? authenticate.known(request);
      log.info("http_request", {
        request_id: info.requestId,
        trace_id: info.traceId,
        method: request.method,
        route,
        status,
        duration_ms: Math.round(ms * 1000) / 1000,
        tenant: principal?.tenantId ?? null,
      });
    })
    .use(
      // The document route answers the rendering made valid OpenAPI 3.1 (src/platform/openapi.ts).
      publishedDocs(
        openapi({
          path: "/docs",
          specPath: "/openapi.json",
          // Swagger UI from the pinned npm package, served here (docs-assets.ts): no CDN, works offline.
          provider: "swagger-ui",
          swagger: { ...DOCS_ASSETS, autoDarkMode: false },
          documentation: DOCUMENTATION,
        }),
        "/openapi.json",
        () => routeTable.routes,
      ),
    )
    .use(runtimeLimits)
    .onRequest(async ({ request }) => {
      // After the rate limiter, before routing and any parser. The caller is authenticated first, so
      // an anonymous request to an authenticated API is a 401 without its body being read; then the
      // body is read counting bytes, and one over the limit is a 413 (at most the limit is ever
      // held). Elysia's parsers and the routes' own then parse the text read here (bufferedBody).
      // The streamed import reads its own body, through limitBody (src/curves/index.ts). Not an
      // onParse hook: the OpenAPI plugin would then document no request body content at all.
      if (!request.body) return;
      await authenticate(request);
      if (isStreamedImport(request)) return;
      bufferedBody(request, await readBodyText(request.body, deps.config.maxBodyBytes));
    })
    .use(docsAssetRoutes())
    .use(opsRoutes({ sql: deps.sql, metrics, isDraining: deps.isDraining }))
    .use(scenarioRoutes({ authenticate, scenarios, log }))
    .use(runRoutes({ authenticate, runs, log, ...(deps.runEvents ? { events: deps.runEvents } : {}) }))
    .use(curveRoutes({ authenticate, curves, maxImportBytes: deps.config.maxImportBytes }))
    .use(cacheAdminRoutes({ authenticate, scenarios: deps.scenarioRepo, cache }))
    .use(outputRoutes({ authenticate, log, flags, outputs, stallMs: deps.config.exportStallSeconds * 1000 }))
    .use(consoleRoutes({ log }));
  routeTable.routes = app.routes;
  return app;
}

/**
 * RFC 6750 §3 challenge of a 401: no error code when the request carried no credentials,
 * `invalid_request` for a malformed Authorization header, `invalid_token` for a token refused.
 */
function bearerChallenge(request: Request, message: string): string {
  const header = request.headers.get("authorization");
  const realm = 'Bearer realm="aurum-scenarios"';
  if (header === null) return realm;
  const error = /^Bearer\s+\S+\s*$/i.test(header) ? "invalid_token" : "invalid_request";
  return `${realm}, error="${error}", error_description="${message.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, "?")}"`;
}

/**
 * The app's type, routes and schemas included: an Eden Treaty client (`treaty<App>(url)`, package
 * `@elysiajs/eden`) gets typed calls from it (docs/scenarios.md, "Typed client").
 */
export type App = ReturnType<typeof createApp>;

/** `POST /v1/curves:import`: its body is streamed into the database, not parsed in memory. */
function isStreamedImport(request: Request): boolean {
  const url = request.url;
  const end = url.indexOf("?");
  return (end < 0 ? url : url.slice(0, end)).endsWith(":import");
}

/** Maps any error to a status and the envelope; unknown errors become a 500 without internals. */
function toErrorResponse(request: Request, code: string | number, error: unknown, log: Logger) {
  const reply = (status: number, errCode: string, message: string, details?: unknown) => ({ status, body: errorBody(request, errCode, message, details) });
  if (error instanceof AppError) return reply(error.status, error.code, error.message, error.details);
  if (error instanceof ValidationError) {
    return reply(400, "VALIDATION_ERROR", `invalid ${error.type}`, validationIssues(error.type, error.all));
  }
  switch (code) {
    case "NOT_FOUND":
      return reply(404, "NOT_FOUND", `no route for ${request.method} ${new URL(request.url).pathname}`);
    case "METHOD_NOT_ALLOWED":
      return reply(405, "METHOD_NOT_ALLOWED", `${request.method} is not a method of ${new URL(request.url).pathname}`);
    case "PARSE": {
      // A parse hook's own verdict (e.g. optionalJsonBody: "must be a JSON object") comes through as is.
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof AppError) return reply(cause.status, cause.code, cause.message, cause.details);
      return reply(400, "VALIDATION_ERROR", "request body is not valid JSON", [{ field: "/", location: "body", message: "could not be parsed" }]);
    }
    case "INVALID_COOKIE_SIGNATURE":
    case "INVALID_FILE_TYPE":
      return reply(400, "VALIDATION_ERROR", (error as Error).message);
  }
  // A data exception from Postgres (class 22: bad encoding, out-of-range value) is bad input that slipped past the schema.
  const pgCode = (error as { code?: unknown })?.code;
  if (typeof pgCode === "string" && pgCode.startsWith("22")) return reply(400, "VALIDATION_ERROR", "a value in the request is not acceptable to the database");
  // Connection trouble, a shutting-down server (57P0x) or too many connections (53300) is the database, not the caller.
  if (typeof pgCode === "string" && /^(ECONNREFUSED|ECONNRESET|CONNECTION_|CONNECT_TIMEOUT|57P0|53300|08)/.test(pgCode)) {
    return reply(503, "UNAVAILABLE", "the metadata database is unavailable; retry later");
  }
  log.error("unhandled_error", { request_id: requestInfo(request).requestId, code: String(code), error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return reply(500, "INTERNAL", "internal error");
}
