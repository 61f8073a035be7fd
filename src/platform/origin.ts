/**
 * Cross-site request refusal. A web page can make a browser send a form post (or a `fetch` with a
 * "simple" content type: form-encoded, multipart or text/plain) to any address, with no CORS
 * preflight — to a local-mode API on loopback too. So state-changing requests (POST, PUT, PATCH,
 * DELETE) must
 *
 * - carry a body only with the content type their route takes: `application/json` (parameters
 *   such as charset allowed), `text/csv` for `POST /v1/curves:import`, and also
 *   `application/merge-patch+json` for `PATCH /v1/scenarios/{id}`; a browser sends those
 *   cross-site only after a preflight this API never grants, so no page can forge them; and
 * - when they carry an `Origin` header (browsers always send it on such requests), name this API's
 *   own origin (the host it was addressed as) or one listed in AURUM_API_ALLOWED_ORIGINS.
 *
 * Requests without an Origin (curl, the CLI, services) are unaffected. The same-origin console
 * passes both checks.
 */
import { AppError } from "./errors";
import { MERGE_PATCH } from "./http";

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SCENARIO_ITEM = /^\/v1\/scenarios\/[^/]+\/?$/;

export type OriginPolicy = {
  allowedOrigins?: readonly string[];
  /**
   * Local mode on its default loopback address: every request (reads too) must be addressed to a
   * loopback name (localhost, 127.x, [::1]) or an allowed origin's host. A page whose DNS name
   * is made to resolve to 127.0.0.1 (DNS rebinding) is then refused: its requests name its own host.
   */
  loopbackOnly?: boolean;
};

/** Throws 403 or 415 for a request a foreign page could have made a browser send; returns for anything else. */
export function originGuard(policy: OriginPolicy = {}): (request: Request) => void {
  const allowed = new Set((policy.allowedOrigins ?? []).map(normalise).filter((o): o is string => o !== undefined));
  const allowedHosts = new Set([...allowed].map((o) => new URL(o).host));
  return (request) => {
    const url = new URL(request.url);
    if (policy.loopbackOnly && !isLoopback(url.hostname) && !allowedHosts.has(url.host)) {
      throw new AppError(
        "FORBIDDEN",
        `local mode answers requests addressed to localhost or 127.0.0.1 only, not ${JSON.stringify(url.host.slice(0, 200))} (set AURUM_API_HOST to serve other names)`,
      );
    }
    if (!STATE_CHANGING.has(request.method)) return;
    const origin = request.headers.get("origin");
    if (origin !== null && !sameOrAllowed(origin, url, allowed)) {
      throw new AppError(
        "FORBIDDEN",
        `cross-origin ${request.method} refused: Origin ${JSON.stringify(origin.slice(0, 200))} is neither this API (${url.host}) nor listed in AURUM_API_ALLOWED_ORIGINS`,
      );
    }
    const csv = url.pathname === "/v1/curves:import";
    const expected = csv ? "text/csv" : "application/json";
    const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (!type) {
      if (hasBody(request)) throw new AppError("UNSUPPORTED_MEDIA_TYPE", `a ${request.method} body needs Content-Type: ${expected}`);
      return;
    }
    // PATCH /v1/scenarios/{id} also takes a JSON Merge Patch (RFC 7396); no other route does.
    if (type === MERGE_PATCH && request.method === "PATCH" && SCENARIO_ITEM.test(url.pathname)) return;
    if (type !== expected) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Content-Type ${JSON.stringify(type.slice(0, 100))} is not accepted here: send ${expected}`);
    }
  };
}

function sameOrAllowed(origin: string, url: URL, allowed: ReadonlySet<string>): boolean {
  const o = normalise(origin);
  if (o === undefined) return false; // "null" (sandboxed frames, file: pages) and garbage
  // Same host as the request was addressed to; the scheme may differ behind a TLS-terminating proxy.
  return new URL(o).host === url.host || allowed.has(o);
}

function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function normalise(origin: string): string | undefined {
  try {
    const u = new URL(origin.trim());
    return u.protocol === "http:" || u.protocol === "https:" ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

function hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return length.trim() !== "0";
  // Chunked from a socket; a Request made in process (app.handle) has neither header.
  return request.headers.has("transfer-encoding") || request.body !== null;
}
