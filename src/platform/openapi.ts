/**
 * The published OpenAPI 3.1 document. @elysiajs/openapi renders the routes' schemas; `publishOpenApi`
 * turns that rendering into a valid 3.1 document and adds what the app's cross-cutting hooks
 * (app.ts) really answer. Kept small, one step per known defect of the rendering:
 *
 * - schemas: the TypeBox `error` keyword (our validation messages, src/platform/http.ts) is not
 *   JSON Schema and is stripped; Elysia's `$id: "#/components/schemas/X"` marks on registered
 *   models become `$ref`s (the nested copies made the ids duplicate); tuples (`items: [..]`,
 *   `additionalItems`) become `prefixItems`; `t.Integer`'s coercion branch `{type: string,
 *   format: integer}` is dropped (the integer is the documented form);
 * - request bodies: only the media types the API accepts (application/json; the origin guard
 *   refuses form encodings with a 415), not Elysia's default form types;
 * - custom-verb paths: Elysia routes `/v1/curves:import` as `/v1/curves{verb}`; published literally;
 * - a route's `detail.responses` adds to what its `response` schemas render (the renderer drops
 *   it): 204/304 without content, response headers, the CSV/NDJSON media types of a download;
 * - shared components: the error envelope responses, each error status an operation can get (from
 *   the hooks every request passes: rate limiter (429, 503 failing closed), authentication (401),
 *   origin guard and local mode (403, 415), body limit (413), unexpected errors (500); the
 *   database's 503 is on every route but the exempt probes, which never query it) and the response headers (X-Request-Id on every response, X-RateLimit-*,
 *   Retry-After, WWW-Authenticate, Allow, ETag, Location); OPTIONS on every path.
 */
import { type AnyElysia, Elysia } from "elysia";
import { EXEMPT_PATHS } from "../ratelimit";
import { ROUTE_PERMISSIONS } from "./route-permissions";
import { ErrorResponse } from "./schema";

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked as plain JSON
type Json = any;
type Route = { method: string; path: string; hooks?: { detail?: { hide?: boolean; responses?: Record<string, unknown> } } };

const header = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });
const response = (name: keyof typeof RESPONSES) => ({ $ref: `#/components/responses/${name}` });

/** Response headers, referenced by name from routes (`detail.responses`) and the shared responses. */
export const HEADERS = {
  "X-Request-Id": {
    description: "The request's id: the client's `X-Request-Id` when well-formed, else a new UUID. Also `meta.request_id` of a JSON body.",
    required: true,
    schema: { type: "string" },
  },
  ETag: { description: "Strong entity tag of the scenario's current version (`If-Match`, `If-None-Match`).", required: true, schema: { type: "string" } },
  Location: { description: "Path of the created or found resource.", required: true, schema: { type: "string" } },
  "Retry-After": { description: "Seconds to wait before retrying.", required: true, schema: { type: "integer", minimum: 1 } },
  "X-RateLimit-Limit": { description: "The bucket size of the caller's limit (sent when the route is rate limited).", schema: { type: "integer" } },
  "X-RateLimit-Remaining": { description: "Requests left in the bucket now.", schema: { type: "integer" } },
  "X-RateLimit-Reset": { description: "Seconds until the bucket is full again.", schema: { type: "integer" } },
  "WWW-Authenticate": {
    description: 'RFC 6750 challenge: `Bearer realm="aurum-scenarios"`, with `error="invalid_request"` or `error="invalid_token"` when credentials were sent.',
    required: true,
    schema: { type: "string" },
  },
  Allow: { description: "The methods of the path (RFC 9110 §10.2.1).", required: true, schema: { type: "string" } },
  "Content-Disposition": { description: "A download's file name (`attachment; filename=...`); CSV and NDJSON only.", schema: { type: "string" } },
  "X-Aurum-Run-Id": { description: "The run whose rows a download holds.", schema: { type: "string", format: "uuid" } },
  "X-Aurum-With-Run-Id": { description: "A compare download: the run of side b.", schema: { type: "string", format: "uuid" } },
  "X-Aurum-With-Scenario-Id": { description: "A compare download against another scenario: that scenario.", schema: { type: "string", format: "uuid" } },
  "Access-Control-Allow-Origin": { description: "CORS: the request's Origin when listed in AURUM_API_CORS_ORIGINS.", schema: { type: "string" } },
  "Access-Control-Allow-Methods": { description: "CORS preflight: the methods granted.", schema: { type: "string" } },
  "Access-Control-Allow-Headers": { description: "CORS preflight: the request headers granted.", schema: { type: "string" } },
  "Access-Control-Max-Age": { description: "CORS preflight: seconds the grant may be cached.", schema: { type: "integer" } },
} as const;

const envelope = { "application/json": { schema: { $ref: "#/components/schemas/ErrorResponse" } } };
const error = (description: string, headers: Record<string, unknown> = {}) => ({ description, headers: { "X-Request-Id": header("X-Request-Id"), ...headers }, content: envelope });

/** The error responses, one per status; `error.code` of the envelope names the cause. */
export const RESPONSES = {
  BadRequest: error("VALIDATION_ERROR: a parameter, header or the body is invalid (`error.details` lists the fields)."),
  Unauthorized: error("UNAUTHORIZED: no valid credentials.", { "WWW-Authenticate": header("WWW-Authenticate") }),
  Forbidden: error(
    "FORBIDDEN: the caller lacks the permission, a cross-origin state change, or local mode addressed by a non-loopback name; FEATURE_NOT_ENTITLED: the tenant's flags turn the feature off.",
  ),
  NotFound: error("NOT_FOUND: no such resource (or one of another tenant), or no route for the path."),
  MethodNotAllowed: error("METHOD_NOT_ALLOWED: the path exists with other methods (any path of this document, any method it does not list).", {
    Allow: header("Allow"),
  }),
  Conflict: error("CONFLICT: the request conflicts with the resource's state."),
  PreconditionFailed: error("PRECONDITION_FAILED: `If-Match` or `If-None-Match` does not hold; nothing was changed."),
  PayloadTooLarge: error("PAYLOAD_TOO_LARGE: the body exceeds AURUM_API_MAX_BODY_BYTES (AURUM_API_MAX_IMPORT_BYTES for the curve import)."),
  UnsupportedMediaType: error("UNSUPPORTED_MEDIA_TYPE: a body with a content type other than the operation's."),
  TooManyRequests: error("RATE_LIMITED: the caller's rate limit, or the export slots of a download, are exhausted.", {
    "Retry-After": header("Retry-After"),
  }),
  InternalError: error("INTERNAL: an unexpected error (logged with the request id)."),
  Unavailable: error("UNAVAILABLE: the metadata database or the rate limiter is unavailable (retry); FEATURE_DISABLED: a feature turned off for every tenant."),
  Options: {
    description: "The path's methods; a CORS preflight from an origin in AURUM_API_CORS_ORIGINS is granted (docs/scenarios.md, CORS).",
    headers: {
      "X-Request-Id": header("X-Request-Id"),
      Allow: header("Allow"),
      "Access-Control-Allow-Origin": header("Access-Control-Allow-Origin"),
      "Access-Control-Allow-Methods": header("Access-Control-Allow-Methods"),
      "Access-Control-Allow-Headers": header("Access-Control-Allow-Headers"),
      "Access-Control-Max-Age": header("Access-Control-Max-Age"),
    },
  },
} as const;

const BY_STATUS: Record<string, keyof typeof RESPONSES> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  412: "PreconditionFailed",
  413: "PayloadTooLarge",
  415: "UnsupportedMediaType",
  429: "TooManyRequests",
  500: "InternalError",
  503: "Unavailable",
};

/** Responses any request may get before it reaches a route, whatever its path: the hooks of app.ts. */
/**
 * Operations answered from memory, with no I/O a fault could break: no 500 is documented for them (a
 * 500 there would be a bug, which the tests' contract check reports). /readyz reports the database
 * as a 503 instead of failing; the config reads answer from the runtime snapshot (docs/runtime-config.md).
 */
const FROM_MEMORY: ReadonlySet<string> = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /v1/admin/config",
  "GET /v1/admin/config/ratelimit/{tenant}",
  "GET /v1/admin/config/feature-flags/{tenant}",
]);

export const UNROUTED_STATUSES = [403, 404, 405, 413, 415, 429, 500, 503] as const;

/** Elysia reads `:verb` as a parameter; the routes check the verb (customVerb), the document names it. */
const CUSTOM_VERBS: Record<string, string> = {
  "/v1/curves{verb}": "/v1/curves:import",
  "/v1/scenarios/{id}/runs{verb}": "/v1/scenarios/{id}/runs:bulk",
};

const STATE_CHANGING = new Set(["post", "put", "patch", "delete"]);
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Header refs for a route's `detail.responses`, e.g. `{ headers: headerRefs("ETag", "Location") }`. */
export function headerRefs(...names: (keyof typeof HEADERS)[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((n) => [n, header(n)]));
}

/**
 * Wraps the @elysiajs/openapi plugin so its document route answers `publishOpenApi` of its
 * rendering (once; the routes do not change after createApp). A local hook of this wrapper: it
 * runs for the plugin's own routes only.
 */
export function publishedDocs<Plugin extends AnyElysia>(plugin: Plugin, specPath: string, routes: () => readonly Route[]) {
  let published: Json;
  return new Elysia({ name: "published-openapi" })
    .onAfterHandle(({ path, responseValue }) => {
      if (path !== specPath) return;
      published ??= publishOpenApi(responseValue, routes());
      return published;
    })
    .use(plugin);
}

/** The rendering of @elysiajs/openapi (plus the app's routes) as a valid OpenAPI 3.1 document. */
export function publishOpenApi(rendered: Json, routes: readonly Route[]): Json {
  const doc = structuredClone(rendered);
  const schemas: Record<string, Json> = doc.components?.schemas ?? {};
  schemas.ErrorResponse = structuredClone(ErrorResponse);
  doc.components = { ...doc.components, schemas, headers: structuredClone(HEADERS), responses: structuredClone(RESPONSES) };
  for (const [name, schema] of Object.entries(schemas)) schemas[name] = normaliseSchema(schema, true);

  const byPath = new Map<string, Route[]>();
  for (const route of routes) {
    if (route.hooks?.detail?.hide) continue;
    const path = route.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
    byPath.set(path, [...(byPath.get(path) ?? []), route]);
  }

  const paths: Record<string, Json> = {};
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    const published = CUSTOM_VERBS[path] ?? path;
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const route = byPath.get(path)?.find((r) => r.method.toLowerCase() === method);
      publishOperation(op, method, published, route, path !== published);
    }
    const pathParams = METHODS.flatMap((m) => item[m]?.parameters ?? []).filter((p: Json) => p.in === "path");
    item.options = {
      tags: item.get?.tags ?? item.post?.tags ?? [],
      ...(pathParams.length ? { parameters: [...new Map(pathParams.map((p: Json) => [p.name, p])).values()] } : {}),
      summary: "Methods of this path (and CORS preflight)",
      operationId: `options${published.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? "").toUpperCase())}`,
      security: [],
      // Answered by app.ts's first hook, before the rate limiter and the body checks.
      responses: { 204: response("Options"), 403: response("Forbidden") },
    };
    paths[published] = item;
  }
  doc.paths = paths;
  doc.servers ??= [{ url: "/", description: "The origin serving this document" }];
  return doc;
}

function publishOperation(op: Json, method: string, path: string, route: Route | undefined, customVerb: boolean): void {
  if (customVerb) op.parameters = (op.parameters ?? []).filter((p: Json) => p.name !== "verb");
  if (op.parameters?.length === 0) delete op.parameters;
  for (const p of op.parameters ?? []) p.schema = normaliseSchema(p.schema);
  const content: Record<string, Json> | undefined = op.requestBody?.content;
  if (content) {
    if (content["application/json"]) {
      delete content["application/x-www-form-urlencoded"];
      delete content["multipart/form-data"];
    }
    for (const media of Object.values(content)) media.schema = normaliseSchema(media.schema);
    // PATCH also takes RFC 7396 merge patches of the same shape (src/scenarios/service.ts, docs/scenarios.md).
    if (method === "patch" && content["application/json"]) content["application/merge-patch+json"] = structuredClone(content["application/json"]);
  }
  const responses: Record<string, Json> = op.responses ?? {};
  // The route's own additions (the renderer replaces detail.responses by the `response` schemas).
  for (const [status, extra] of Object.entries<Json>(route?.hooks?.detail?.responses ?? {})) {
    const rendered = responses[status];
    if (!rendered || rendered.$ref || extra.$ref) responses[status] = structuredClone(extra);
    else {
      rendered.description = extra.description ?? rendered.description;
      if (extra.headers) rendered.headers = { ...rendered.headers, ...structuredClone(extra.headers) };
      if (extra.content) rendered.content = { ...rendered.content, ...structuredClone(extra.content) };
    }
  }
  const elysiaPath = route?.path;
  const authenticated = elysiaPath !== undefined && ROUTE_PERMISSIONS.has(`${method.toUpperCase()} ${elysiaPath}`);
  const limited = !EXEMPT_PATHS.has(path);
  // 403: local mode refuses a non-loopback Host before routing; 503: the rate limiter failing closed, or the database.
  const statuses = new Set<number>([403]);
  if (!FROM_MEMORY.has(`${method.toUpperCase()} ${path}`)) statuses.add(500);
  if (authenticated) statuses.add(401);
  if (limited) {
    statuses.add(429);
    statuses.add(503);
  }
  if (STATE_CHANGING.has(method)) {
    statuses.add(413);
    statuses.add(415);
  }
  for (const status of Object.keys(responses)) {
    const r = responses[status];
    // An error status rendered from ErrorResponse is the shared response of that status.
    if (BY_STATUS[status] && isErrorEnvelope(r)) responses[status] = response(BY_STATUS[status]);
  }
  for (const status of statuses) responses[status] ??= response(BY_STATUS[status] as keyof typeof RESPONSES);
  for (const r of Object.values<Json>(responses)) {
    if (r.$ref) continue;
    // Elysia renders a t.Void() response as `content: {type: "void"}`: no content at all.
    if (r.content && typeof r.content.type === "string") delete r.content;
    for (const media of Object.values<Json>(r.content ?? {})) media.schema = normaliseSchema(media.schema);
    r.headers = { "X-Request-Id": header("X-Request-Id"), ...r.headers };
    if (limited) r.headers = { ...r.headers, ...headerRefs("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset") };
  }
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
  if (!authenticated) op.security = [];
}

function isErrorEnvelope(r: Json): boolean {
  if (!r || r.$ref) return Boolean(r?.$ref);
  const schema = r.content?.["application/json"]?.schema;
  const props = schema?.properties;
  return Boolean(props?.error && props?.meta && Object.keys(r.content).length === 1);
}

const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const SCHEMA_VALUES = ["items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "contains", "not", "if", "then", "else", "propertyNames"];
const COMPONENT_ID = /^#\/components\/schemas\/([A-Za-z0-9_.-]+)$/;

/** One schema as JSON Schema 2020-12 (see the module comment); `top` is a component's own root. */
export function normaliseSchema(input: Json, top = false): Json {
  if (!input || typeof input !== "object" || Array.isArray(input)) return input;
  const s: Json = { ...input };
  const id = typeof s.$id === "string" ? s.$id.match(COMPONENT_ID) : null;
  delete s.$id;
  if (id && !top) {
    const ref = { $ref: `#/components/schemas/${id[1]}` };
    // A nullable model (t.Union([Model, t.Null()])) is rendered as the model with `type: [object, null]`.
    return Array.isArray(s.type) && s.type.includes("null") ? { anyOf: [ref, { type: "null" }] } : ref;
  }
  delete s.error;
  // t.Integer: anyOf [{type: string, format: integer}, {type: integer, ...}] -> the integer.
  if (Array.isArray(s.anyOf)) {
    const numeric = s.anyOf.filter((b: Json) => !(b?.type === "string" && (b.format === "integer" || b.format === "numeric")));
    if (numeric.length < s.anyOf.length && numeric.length === 1) {
      const { anyOf: _, ...outer } = s;
      return normaliseSchema({ ...outer, ...numeric[0] }, top);
    }
  }
  if (s.type === "string" && (s.format === "integer" || s.format === "numeric")) delete s.format;
  if (Array.isArray(s.items)) {
    s.prefixItems = s.items;
    delete s.items;
    if (s.additionalItems === false) s.maxItems ??= s.prefixItems.length;
    delete s.additionalItems;
  }
  for (const key of SCHEMA_MAPS) if (s[key] && typeof s[key] === "object") s[key] = Object.fromEntries(Object.entries(s[key]).map(([k, v]) => [k, normaliseSchema(v)]));
  for (const key of SCHEMA_LISTS) if (Array.isArray(s[key])) s[key] = s[key].map((v: Json) => normaliseSchema(v));
  for (const key of SCHEMA_VALUES) if (s[key] && typeof s[key] === "object") s[key] = normaliseSchema(s[key]);
  return s;
}
