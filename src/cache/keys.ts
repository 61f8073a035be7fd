/**
 * Cache keys: `<namespace>:{<tenant>}:<kind>:<version>:<hash>`, where the hash covers the query in
 * a canonical form (keys sorted at every level, absent values dropped), so the same filters in
 * any order, or spelled with explicit undefineds, share one entry. The tenant sits in braces (a
 * Redis Cluster hash tag): a tenant's version, entries and locks live on one slot.
 */

export const CACHE_KINDS = ["outputs", "metrics", "compare"] as const;
export type CacheKind = (typeof CACHE_KINDS)[number];

/** JSON with object keys sorted and undefined/null members dropped; arrays keep their order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value) ?? null);
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v) ?? null);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonical((value as Record<string, unknown>)[key]);
      if (v !== undefined && v !== null) out[key] = v;
    }
    return out;
  }
  return value ?? undefined;
}

/** 128 bits of SHA-256 over the canonical query, base64url (22 characters). */
export function queryHash(query: unknown): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(query)).digest("base64url").slice(0, 22);
}

export function versionKey(namespace: string, tenantId: string): string {
  return `${namespace}:{${tenantId}}:version`;
}

export function entryKey(namespace: string, kind: CacheKind, tenantId: string, version: string, query: unknown): string {
  const { prefix, suffix } = entryKeyParts(namespace, kind, tenantId, query);
  return `${prefix}${version}${suffix}`;
}

/** An entry key without its version: the key is `prefix + version + suffix`. */
export function entryKeyParts(namespace: string, kind: CacheKind, tenantId: string, query: unknown): { prefix: string; suffix: string } {
  return { prefix: `${namespace}:{${tenantId}}:${kind}:`, suffix: `:${queryHash(query)}` };
}

export function lockKey(entry: string): string {
  return `${entry}:lock`;
}
