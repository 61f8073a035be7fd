/**
 * CORS (Fetch standard) for the origins in AURUM_API_CORS_ORIGINS, none by default. A listed
 * origin's preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with the
 * path's methods and the request headers this API reads; its actual requests get
 * `Access-Control-Allow-Origin` and the response headers a client needs exposed. An unlisted
 * origin gets no CORS header at all, so the browser keeps the response from the page. Listed
 * origins may also send state-changing requests (src/platform/origin.ts).
 */

/** Request headers a page may send (besides the CORS-safelisted ones). */
const ALLOWED_HEADERS = ["authorization", "content-type", "if-match", "if-none-match", "x-request-id", "last-event-id", "traceparent"];
/** Response headers a page may read (besides the CORS-safelisted ones). */
const EXPOSED_HEADERS = [
  "etag",
  "location",
  "x-request-id",
  "retry-after",
  "x-ratelimit-limit",
  "x-ratelimit-remaining",
  "x-ratelimit-reset",
  "content-disposition",
  "x-aurum-run-id",
  "x-aurum-tenant",
];
const MAX_AGE_SECONDS = 600;

export type Cors = {
  /** CORS headers for an actual (non-preflight) response to `request`; empty for an unlisted or absent Origin. */
  responseHeaders(request: Request): Record<string, string>;
  /** The answer to an OPTIONS request for a path whose methods are `allow` (non-empty). */
  options(request: Request, allow: readonly string[]): Response;
};

export function createCors(origins: readonly string[]): Cors {
  const listed = new Set(origins.map((o) => o.replace(/\/+$/, "").toLowerCase()));
  const allowedOrigin = (request: Request) => {
    const origin = request.headers.get("origin");
    return origin !== null && listed.has(origin.toLowerCase()) ? origin : undefined;
  };
  return {
    responseHeaders(request): Record<string, string> {
      const origin = allowedOrigin(request);
      if (!origin) return listed.size > 0 ? { vary: "Origin" } : {};
      return { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS.join(", "), vary: "Origin" };
    },
    options(request, allow) {
      const headers: Record<string, string> = { allow: allow.join(", ") };
      const origin = allowedOrigin(request);
      const method = request.headers.get("access-control-request-method");
      if (origin && method !== null) {
        if (listed.size > 0) headers.vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
        const requested = (request.headers.get("access-control-request-headers") ?? "")
          .split(",")
          .map((h) => h.trim().toLowerCase())
          .filter(Boolean);
        // Only a method of this path and only headers this API reads are granted; else no grant, and the browser stops.
        if (allow.includes(method.toUpperCase()) && requested.every((h) => ALLOWED_HEADERS.includes(h))) {
          headers["access-control-allow-origin"] = origin;
          headers["access-control-allow-methods"] = allow.join(", ");
          headers["access-control-allow-headers"] = ALLOWED_HEADERS.join(", ");
          headers["access-control-max-age"] = String(MAX_AGE_SECONDS);
        }
      }
      return new Response(null, { status: 204, headers });
    },
  };
}
