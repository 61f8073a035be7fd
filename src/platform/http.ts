/**
 * Request context and envelopes: every success body is `{ meta, data }` with `meta.request_id`
 * and `meta.query_time_ms`; every error is `{ error: { code, message, details? }, meta }`.
 */
import { AppError, badRequest, type FieldIssue } from "./errors";
import { newTraceId, traceIdOf } from "./trace";

/** `traceId` comes from the request's W3C `traceparent` header, or is new. */
export type RequestInfo = { requestId: string; traceId: string; startedAt: number };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const requests = new WeakMap<Request, RequestInfo>();

/** Takes a well-formed X-Request-Id from the client or makes one; remembered for the request's lifetime. */
export function beginRequest(request: Request): RequestInfo {
  const given = request.headers.get("x-request-id");
  const info = {
    requestId: given && REQUEST_ID.test(given) ? given : crypto.randomUUID(),
    traceId: traceIdOf(request.headers.get("traceparent")) ?? newTraceId(),
    startedAt: performance.now(),
  };
  requests.set(request, info);
  return info;
}

export function requestInfo(request: Request): RequestInfo {
  return requests.get(request) ?? beginRequest(request);
}

export type Meta = { request_id: string; query_time_ms: number } & Record<string, unknown>;

export function meta<E extends Record<string, unknown>>(request: Request, extra?: E): Meta & E {
  const info = requestInfo(request);
  return { request_id: info.requestId, query_time_ms: Math.round((performance.now() - info.startedAt) * 1000) / 1000, ...(extra as E) };
}

export function envelope<T, E extends Record<string, unknown> = Record<never, never>>(request: Request, data: T, extra?: E) {
  return { meta: meta(request, extra), data };
}

/** A keyset page of a list in the envelope: its items, with count, limit and next_cursor in `meta`. */
export function pageEnvelope<T>(request: Request, page: { items: T[]; limit: number; nextCursor: string | null }) {
  return envelope(request, page.items, { count: page.items.length, limit: page.limit, next_cursor: page.nextCursor });
}

const META_OPEN = '{"meta":{';

/**
 * An envelope serialised without its per-request members (`request_id`, `query_time_ms`): what the
 * output cache keeps. It is JSON itself; `envelopeResponse` splices this request's members in.
 */
export type EnvelopeText = string & { readonly __envelope: unique symbol };

export function envelopeText(data: unknown, extra: Record<string, unknown>): EnvelopeText {
  return JSON.stringify({ meta: extra, data }) as EnvelopeText;
}

/** Text from `envelopeText` (undefined for anything else, such as a foreign cache entry). */
export function asEnvelopeText(text: string): EnvelopeText | undefined {
  return text.startsWith(META_OPEN) && text.endsWith("}") ? (text as EnvelopeText) : undefined;
}

/**
 * The response of an envelope kept as text: the bytes `envelope()` would give, without parsing,
 * validating and serialising the data again (a cache hit answers in a string concatenation).
 */
export function envelopeResponse(request: Request, text: EnvelopeText): Response {
  const m = meta(request);
  const rest = text.slice(META_OPEN.length);
  const head = `${META_OPEN}"request_id":${JSON.stringify(m.request_id)},"query_time_ms":${m.query_time_ms}`;
  return new Response(rest.startsWith("}") ? head + rest : `${head},${rest}`, { headers: { "content-type": "application/json;charset=utf-8" } });
}

export function errorBody(request: Request, code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details }, meta: { request_id: requestInfo(request).requestId } };
}

/** Elysia/TypeBox validation errors → one entry per invalid field. */
export function validationIssues(location: string, errors: { path: string; message: string; summary?: string; schema?: { error?: unknown } }[]): FieldIssue[] {
  const seen = new Set<string>();
  const issues: FieldIssue[] = [];
  for (const e of errors) {
    let custom = typeof e.schema?.error === "string" ? e.schema.error : undefined;
    let field = e.path === "" ? "/" : e.path;
    // Elysia's coercion of numeric query values reports failures without a path; such schemas name
    // their field in the message instead ("limit: must be ..."), see `queryInteger`.
    const named = field === "/" ? custom?.match(/^(\w+): (.*)$/) : null;
    if (named) [field, custom] = [`/${named[1]}`, named[2]];
    if (seen.has(field)) continue; // TypeBox reports a union's every branch; the first is the useful one
    seen.add(field);
    issues.push({ field, location: location as FieldIssue["location"], message: custom ?? e.summary ?? e.message });
  }
  return issues;
}

/** RFC 7396 JSON Merge Patch: `PATCH /v1/scenarios/{id}` takes it beside application/json (origin.ts lets it through there only). */
export const MERGE_PATCH = "application/merge-patch+json";

/** The request's media type (lower case, parameters dropped), or "" without a Content-Type. */
export function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

export function isMergePatch(request: Request): boolean {
  return mediaType(request) === MERGE_PATCH;
}

/**
 * Parse hook of routes whose JSON object body may be left out (`POST .../run`, cancel): an empty
 * body means `{}`, anything else must be a JSON object. Elysia's own parser for an optional body
 * swallows syntax errors and runs the route with no body at all, and its coercion turns `null` or
 * `[]` into `{}`; this one throws instead, which Elysia reports as a parse error (a 400 in the
 * envelope, app.ts). The content type is not consulted: a body is a JSON object or a 400.
 */
export async function optionalJsonBody({ request }: { request: Request }): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  const value: unknown = parseJson(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest("request body must be a JSON object", [{ field: "/", location: "body", message: "must be an object (or no body at all)" }]);
  }
  return value as Record<string, unknown>;
}

/** How deep a JSON body may nest (objects and arrays); deeper is a 400, never a stack overflow. */
export const MAX_JSON_DEPTH = 64;

/** JSON.parse behind a nesting check: a linear scan outside strings, so a deep document never reaches a recursive parser or validator. */
export function parseJson(text: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw badRequest(`request body nests deeper than ${MAX_JSON_DEPTH} levels`, [{ field: "/", location: "body", message: `at most ${MAX_JSON_DEPTH} nested objects/arrays` }]);
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return JSON.parse(text);
}

/** The 413 of a body that passed `limit` bytes while arriving. */
export function bodyTooLarge(limit: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`);
}

/**
 * The body counted as it arrives: past `limit` bytes the stream fails with a 413 and the client's
 * stream is cancelled, so nothing beyond the limit is held (a chunked body has no Content-Length
 * to check up front).
 */
export function limitBody(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      seen += value.byteLength;
      if (seen > limit) {
        reader.cancel().catch(() => {});
        return controller.error(bodyTooLarge(limit));
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** The whole body as text, read through `limitBody`: at most `limit` bytes are ever buffered. */
export async function readBodyText(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of limitBody(body, limit)) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Makes a request whose body was already read (by `readBodyText`) answer Elysia's parsers and the
 * routes' own parse hooks from that text: `text()`, `json()` (through `parseJson`), `arrayBuffer()`,
 * `bytes()`, `blob()` and `formData()` are replaced on this one request object, so every parser keeps
 * its own semantics while the bytes were counted and capped before any of them ran.
 */
export function bufferedBody(request: Request, text: string): void {
  const bytes = () => new TextEncoder().encode(text);
  const type = request.headers.get("content-type") ?? "";
  Object.defineProperties(request, {
    text: { value: async () => text },
    json: { value: async () => parseJson(text) },
    arrayBuffer: { value: async () => bytes().buffer },
    bytes: { value: async () => bytes() },
    blob: { value: async () => new Blob([bytes()], { type }) },
    formData: { value: async () => new Response(text, { headers: { "content-type": type } }).formData() },
  });
}

/**
 * Elysia's router reads any `:` as the start of a path parameter, so the guide-style
 * `/v1/curves:import` and `/v1/scenarios/{id}/runs:bulk` are routed with a `{verb}` parameter and the
 * verb checked here (other verbs are 404).
 */
export function customVerb(params: Record<string, string>, verb: string, request: Request): void {
  const value = Object.values(params)[0]?.replace(/^:/, "");
  if (value !== verb) throw new AppError("NOT_FOUND", `no route for ${request.method} ${new URL(request.url).pathname}`);
}
