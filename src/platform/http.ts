/**
 * Request context and envelopes: every success body is `{ meta, data }` with `meta.request_id`
 * and `meta.query_time_ms`; every error is `{ error: { code, message, details? }, meta }`.
 */
import type { FieldIssue } from "./errors";

export type RequestInfo = { requestId: string; startedAt: number };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const requests = new WeakMap<Request, RequestInfo>();

/** Takes a well-formed X-Request-Id from the client or makes one; remembered for the request's lifetime. */
export function beginRequest(request: Request): RequestInfo {
  const given = request.headers.get("x-request-id");
  const info = { requestId: given && REQUEST_ID.test(given) ? given : crypto.randomUUID(), startedAt: performance.now() };
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
