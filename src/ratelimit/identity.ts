/**
 * Who a request counts against: its tenant when verified (from the token, or the tenant header in
 * local mode), else its client address, taken from X-Forwarded-For only as far as the configured
 * number of trusted proxies reaches. Nothing a caller merely asserts (an API key header, an invalid
 * token) picks the bucket: rotating it would give every request a fresh one.
 */
import type { Authenticator, Principal } from "../platform/auth";

export type Identity = { key: string; tenantId: string | null };

type Server = { requestIP(request: Request): { address: string } | null } | null | undefined;

/** The bucket of anonymous callers whose address is unknown (no socket: app.handle in tests and tools). They share it. */
export const UNKNOWN_ADDRESS = "unknown";

export async function identify(request: Request, opts: { authenticate: Authenticator; trustedProxyHops: number; server: Server }): Promise<Identity> {
  const principal = await opts.authenticate(request).catch(() => undefined);
  if (principal?.tenantId) return { key: `t:${principal.tenantId}`, tenantId: principal.tenantId };
  return { key: `ip:${clientAddress(request, opts.server, opts.trustedProxyHops)}`, tenantId: null };
}

/** With n trusted proxies in front, the n-th address from the right of X-Forwarded-For is the one the outermost proxy saw. */
export function clientAddress(request: Request, server: Server, trustedProxyHops: number): string {
  if (trustedProxyHops > 0) {
    const forwarded = request.headers
      .get("x-forwarded-for")
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (forwarded?.length) return forwarded[Math.max(0, forwarded.length - trustedProxyHops)] as string;
  }
  return server?.requestIP(request)?.address ?? UNKNOWN_ADDRESS;
}

/** An authenticator that verifies each request once and can tell, without verifying, whom it found. */
export type RememberingAuthenticator = Authenticator & {
  /** The principal a finished authentication of `request` found; undefined before one finished, or when it was refused. */
  known(request: Request): Principal | undefined;
};

/**
 * Authenticates each request once: the limiter needs the tenant before routing and the routes
 * need the principal after it, so both share one promise (and one JWT verification) per request.
 * The request log reads the result with `known`, also when a route never asked (a 400 from
 * validation answers before the route's own authentication).
 */
export function rememberPrincipal(authenticate: Authenticator): RememberingAuthenticator {
  const seen = new WeakMap<Request, Promise<Principal>>();
  const found = new WeakMap<Request, Principal>();
  const remembering = (request: Request) => {
    let principal = seen.get(request);
    if (!principal) {
      principal = authenticate(request);
      seen.set(request, principal);
      principal.then(
        (p) => found.set(request, p),
        () => {},
      );
    }
    return principal;
  };
  return Object.assign(remembering, { known: (request: Request) => found.get(request) });
}
