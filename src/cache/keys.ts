/**
 * Cache keys: `<namespace>:{<tenant>}:<kind>:<version>:<hash>`, where the hash covers the query in
 * a canonical form (keys sorted at every level, absent values dropped), so the same filters in
 * any order, or spelled with explicit undefineds, share one entry. The tenant sits in braces (a
 * Redis Cluster hash tag): a tenant's version, entries and locks live on one slot.
 */
import { canonicalJson } from "../platform/json";

export const CACHE_KINDS = ["outputs", "metrics", "compare"] as const;
export type CacheKind = (typeof CACHE_KINDS)[number];

/** The query's canonical form: keys sorted at every level, undefined and null members dropped; arrays keep their order. */
export function canonicalQuery(query: unknown): string {
  return canonicalJson(query, { dropNulls: true });
}

/** 128 bits of SHA-256 over the canonical query, base64url (22 characters). */
export function queryHash(query: unknown): string {
  return new Bun.CryptoHasher("sha256").update(canonicalQuery(query)).digest("base64url").slice(0, 22);
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
