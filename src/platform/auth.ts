/**
 * Authentication (bearer JWTs verified with jose) and authorization (roles → permissions),
 * plus the trusted local mode of `AURUM_API_AUTH_DISABLED=1`.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import type { Config } from "../config";
import { AppError } from "./errors";

export const PERMISSIONS = [
  "scenarios:read",
  "scenarios:write",
  "scenarios:run",
  "scenarios:delete",
  /** Trigger runs with priority CRITICAL (docs/runs.md "Fairness"); `scenarios:run` alone allows LOW..HIGH. */
  "runs:critical",
  "admin:rate_limits",
  "admin:feature_flags",
  "admin:*",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Built-in roles; AURUM_API_AUTH_ROLE_PERMISSIONS adds to or replaces them. A role claim may also name a permission directly. */
export const DEFAULT_ROLES: ReadonlyMap<string, readonly Permission[]> = new Map<string, readonly Permission[]>([
  ["viewer", ["scenarios:read"]],
  ["analyst", ["scenarios:read", "scenarios:write", "scenarios:run"]],
  ["operator", ["scenarios:read", "scenarios:write", "scenarios:run", "scenarios:delete", "runs:critical"]],
  ["admin", ["admin:*"]],
]);

const PERMISSION_NAMES: ReadonlySet<string> = new Set(PERMISSIONS);

/**
 * The role table: a Map, so a role claim such as `constructor`, `toString` or `__proto__` is just
 * an unknown role (no permissions) rather than a member of Object.prototype.
 */
export function roleTable(extra: Readonly<Record<string, readonly string[]>> | undefined): ReadonlyMap<string, readonly string[]> {
  const roles = new Map<string, readonly string[]>(DEFAULT_ROLES);
  for (const [role, perms] of Object.entries(extra ?? {})) roles.set(role, perms);
  return roles;
}

/** The permissions a token's role claim grants: roles from the table, and permission names given directly. */
export function permissionsOf(roleClaim: unknown, roles: ReadonlyMap<string, readonly string[]>): Set<Permission> {
  const permissions = new Set<Permission>();
  for (const role of roleList(roleClaim)) {
    if (PERMISSION_NAMES.has(role)) permissions.add(role as Permission);
    for (const perm of roles.get(role) ?? []) if (PERMISSION_NAMES.has(perm)) permissions.add(perm as Permission);
  }
  return permissions;
}

export type Principal = {
  subject: string;
  /** The tenant every query is scoped to; null only for the operator of the trusted local mode (all tenants). */
  tenantId: string | null;
  permissions: ReadonlySet<Permission>;
  mode: "jwt" | "local";
};

export const TENANT_HEADER = "x-aurum-tenant";
const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export function isValidTenantId(value: string): boolean {
  return TENANT_PATTERN.test(value);
}

export function hasPermission(p: Principal, perm: Permission): boolean {
  return p.permissions.has("admin:*") || p.permissions.has(perm);
}

/** 403 unless `p` holds `perm`; `why` says what needed it (default: "missing permission <perm>"). */
export function authorize(p: Principal, perm: Permission, why?: string): void {
  if (!hasPermission(p, perm)) throw new AppError("FORBIDDEN", why ?? `missing permission ${perm}`);
}

/** Priority CRITICAL needs `runs:critical` (operator and admin roles), any other priority only `scenarios:run`. */
export function authorizePriority(p: Principal, priority: string | undefined): void {
  if (priority?.trim().toUpperCase() === "CRITICAL") {
    authorize(p, "runs:critical", "priority CRITICAL needs permission runs:critical (roles operator and admin); use HIGH or lower, or ask an operator");
  }
}

/** Passes when the principal holds any one of `perms`. */
export function authorizeAny(p: Principal, perms: readonly Permission[]): void {
  if (!perms.some((perm) => hasPermission(p, perm))) throw new AppError("FORBIDDEN", `missing permission ${perms.join(" or ")}`);
}

/**
 * The tenant a request acts on. A token's tenant wins and must match any tenant the request names;
 * in local mode the header or `tenant_id` picks it, and naming none means the operator (null).
 */
export function resolveTenant(p: Principal, requested: string | undefined): string | null {
  if (requested !== undefined && !isValidTenantId(requested)) {
    throw new AppError("VALIDATION_ERROR", "tenant_id is invalid", [{ field: "tenant_id", message: `must match ${TENANT_PATTERN}` }]);
  }
  if (p.mode === "jwt") {
    if (requested !== undefined && requested !== p.tenantId) throw new AppError("FORBIDDEN", "tenant_id does not match the tenant of your token");
    return p.tenantId;
  }
  if (p.tenantId !== null && requested !== undefined && requested !== p.tenantId) {
    throw new AppError("VALIDATION_ERROR", `${TENANT_HEADER} and tenant_id name different tenants`, [{ field: "tenant_id", message: "differs from the X-Aurum-Tenant header" }]);
  }
  return p.tenantId ?? requested ?? null;
}

export type Authenticator = (request: Request) => Promise<Principal>;

const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set(PERMISSIONS);

/** Builds the request authenticator from config; throws at start-up when auth is on but unconfigured. */
export function createAuthenticator(config: Config): Authenticator {
  if (config.authDisabled) {
    return async (request) => {
      const header = request.headers.get(TENANT_HEADER)?.trim();
      if (header !== undefined && header !== "" && !isValidTenantId(header)) {
        throw new AppError("VALIDATION_ERROR", "X-Aurum-Tenant is invalid", [{ field: TENANT_HEADER, location: "headers", message: `must match ${TENANT_PATTERN}` }]);
      }
      return { subject: "local-operator", tenantId: header || null, permissions: ALL_PERMISSIONS, mode: "local" };
    };
  }
  const key = verificationKey(config);
  const roles = roleTable(config.rolePermissions);
  const leeway = config.jwtLeewaySeconds;
  const options = {
    algorithms: config.jwtAlgorithms,
    // jose rejects an `exp` in the past and an `nbf` in the future beyond this; `iat` is checked below.
    clockTolerance: leeway,
    ...(config.jwtRequireExp ? { requiredClaims: ["exp"] } : {}),
    ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
    ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
  };

  return async (request) => {
    const header = request.headers.get("authorization");
    const match = header?.match(/^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i);
    if (!match) throw new AppError("UNAUTHORIZED", header ? "authorization header must be 'Bearer <token>'" : "missing bearer token");
    let payload: JWTPayload;
    try {
      payload = (await (typeof key === "function" ? jwtVerify(match[1] as string, key, options) : jwtVerify(match[1] as string, key, options))).payload;
    } catch (err) {
      throw tokenError(err);
    }
    // A token "issued" in the future was minted with a wrong clock or to outlive its keys: refuse it.
    if (typeof payload.iat === "number" && payload.iat > Date.now() / 1000 + leeway) {
      throw new AppError("UNAUTHORIZED", `token claim iat is invalid: issued in the future (more than ${leeway} s)`);
    }
    const tenant = claim(payload, config.tenantClaim);
    if (typeof tenant !== "string" || !isValidTenantId(tenant)) throw new AppError("FORBIDDEN", `token has no valid ${config.tenantClaim} claim`);
    const permissions = permissionsOf(claim(payload, config.rolesClaim), roles);
    return { subject: payload.sub ?? "unknown", tenantId: tenant, permissions, mode: "jwt" };
  };
}

function verificationKey(config: Config): JWTVerifyGetKey | KeyObject {
  if (config.jwksUrl) {
    return createRemoteJWKSet(new URL(config.jwksUrl), {
      cacheMaxAge: 10 * 60_000,
      // An unknown kid triggers one refetch; a flood of bad kids cannot hammer the issuer.
      cooldownDuration: config.jwksCooldownSeconds * 1000,
      timeoutDuration: 5_000,
    });
  }
  if (config.jwtPublicKey) {
    try {
      return createPublicKey(config.jwtPublicKey.replace(/\\n/g, "\n"));
    } catch (err) {
      throw new Error(`AURUM_API_AUTH_PUBLIC_KEY is not a PEM public key: ${(err as Error).message}`);
    }
  }
  throw new Error("auth is enabled but unconfigured: set AURUM_API_AUTH_JWKS_URL or AURUM_API_AUTH_PUBLIC_KEY, or AURUM_API_AUTH_DISABLED=1 for trusted local use");
}

function tokenError(err: unknown): AppError {
  if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch|ECONNREFUSED|network/i.test(err.message) && !(err instanceof joseErrors.JOSEError))) {
    return new AppError("UNAVAILABLE", "token keys could not be fetched from the issuer");
  }
  if (err instanceof joseErrors.JWTExpired) return new AppError("UNAUTHORIZED", "token expired");
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new AppError("UNAUTHORIZED", `token claim ${err.claim} is invalid: ${err.reason}`);
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new AppError("UNAUTHORIZED", "token signed with an unknown key");
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new AppError("UNAUTHORIZED", "token algorithm is not allowed");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new AppError("UNAUTHORIZED", "token signature is invalid");
  return new AppError("UNAUTHORIZED", "token is invalid");
}

function claim(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split(".")) {
    // Own members only: a claim path never reaches into Object.prototype.
    if (!value || typeof value !== "object" || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function roleList(value: unknown): string[] {
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}
