/**
 * Who a request counts against: its tenant (verified: from the token, or the tenant header in
 * local mode), else its API key header (hashed, never stored), else its client address, taken
 * from X-Forwarded-For only as far as the configured number of trusted proxies reaches.
 */
import type { Authenticator, Principal } from "../platform/auth";

export type Identity = { key: string; tenantId: string | null };

type Server = { requestIP(request: Request): { address: string } | null } | null | undefined;

export async function identify(request: Request, opts: { authenticate: Authenticator; keyHeader: string; trustedProxyHops: number; server: Server }): Promise<Identity> {
  const principal = await opts.authenticate(request).catch(() => undefined);
  if (principal?.tenantId) return { key: `t:${principal.tenantId}`, tenantId: principal.tenantId };
  const apiKey = request.headers.get(opts.keyHeader);
  if (apiKey) return { key: `k:${new Bun.CryptoHasher("sha256").update(apiKey).digest("hex").slice(0, 32)}`, tenantId: null };
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
  return server?.requestIP(request)?.address ?? "unknown";
}

/**
 * Authenticates each request once: the limiter needs the tenant before routing and the routes
 * need the principal after it, so both share one promise (and one JWT verification) per request.
 */
export function rememberPrincipal(authenticate: Authenticator): Authenticator {
  const seen = new WeakMap<Request, Promise<Principal>>();
  return (request) => {
    let principal = seen.get(request);
    if (!principal) {
      principal = authenticate(request);
      seen.set(request, principal);
    }
    return principal;
  };
}
