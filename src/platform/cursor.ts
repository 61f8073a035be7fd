/**
 * Opaque keyset cursors: base64url JSON of the last row's sort key plus a fingerprint of the
 * filters, so a cursor reused with other filters is a 400 instead of a silently wrong page.
 * keysetPage() is the whole round trip a list endpoint makes; encode/decode serve the ones with
 * their own paging (outputs).
 */
import { badRequest } from "./errors";

/** The key of lists sorted newest first: `created_at` to the microsecond (as text) and the id. */
export const NEWEST_FIRST_KEY = { t: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/, i: /^[0-9a-f-]{36}$/ };

/**
 * One keyset page: decodes `cursor` (a 400 when it is not ours or was issued for other filters),
 * asks `fetch` for up to `limit + 1` rows after its key (the extra row only tells that a next page
 * exists) and issues the next cursor from the key of the page's last row.
 */
export async function keysetPage<K extends string, R>(o: {
  cursor: string | undefined;
  limit: number;
  filters: Record<string, unknown>;
  shape: Record<K, RegExp>;
  fetch: (after: Record<K, string> | undefined) => Promise<R[]>;
  keyOf: (row: R) => Record<K, string>;
}): Promise<{ items: R[]; nextCursor: string | null }> {
  const fingerprint = filterFingerprint(o.filters);
  const after = o.cursor ? decodeCursor(o.cursor, fingerprint, o.shape) : undefined;
  const rows = await o.fetch(after);
  const items = rows.slice(0, o.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > o.limit && last ? encodeCursor(o.keyOf(last), fingerprint) : null };
}

/**
 * A page of a newest-first list (rows carrying `created_at`, as UTC ISO text to the microsecond,
 * and `id`): the cursor is issued for `filter` with its creation bounds as ISO text.
 */
export async function newestFirstPage<R extends { created_at: string; id: string }>(o: {
  cursor: string | undefined;
  limit: number;
  filter: Record<string, unknown> & { createdAfter?: Date; createdBefore?: Date };
  fetch: (after: { ts: string; id: string } | undefined) => Promise<R[]>;
}) {
  const { items, nextCursor } = await keysetPage({
    cursor: o.cursor,
    limit: o.limit,
    filters: { ...o.filter, createdAfter: o.filter.createdAfter?.toISOString(), createdBefore: o.filter.createdBefore?.toISOString() },
    shape: NEWEST_FIRST_KEY,
    fetch: (after) => o.fetch(after && { ts: after.t, id: after.i }),
    keyOf: (r) => ({ t: r.created_at, i: r.id }),
  });
  return { items, nextCursor };
}

export function filterFingerprint(filters: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(filters)
      .sort()
      .map((k) => [k, filters[k] ?? null]),
  );
  return new Bun.CryptoHasher("sha256").update(canonical).digest("base64url").slice(0, 12);
}

export function encodeCursor(key: Record<string, string>, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ ...key, f: fingerprint })).toString("base64url");
}

/** Decodes a cursor whose fields all match `shape`; anything else is a 400 naming `cursor`. */
export function decodeCursor<K extends string>(raw: string, fingerprint: string, shape: Record<K, RegExp>): Record<K, string> {
  const invalid = (why: string) => badRequest("cursor is invalid", [{ field: "cursor", location: "query", message: why }]);
  let value: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error();
    value = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    throw invalid("not a cursor issued by this API");
  }
  if (!value || typeof value !== "object") throw invalid("not a cursor issued by this API");
  const record = value as Record<string, unknown>;
  // A forged cursor can carry any JSON string; a control character (a NUL above all: Postgres refuses
  // it in text and the driver reported it as a lost connection) is never part of a key we issue.
  for (const v of Object.values(record)) if (typeof v === "string" && hasControlCharacter(v)) throw invalid("not a cursor issued by this API");
  for (const [k, pattern] of Object.entries(shape) as [K, RegExp][]) {
    if (typeof record[k] !== "string" || !pattern.test(record[k] as string)) throw invalid("not a cursor issued by this API");
  }
  if (record.f !== fingerprint) throw invalid("belongs to a query with other filters");
  return record as Record<K, string>;
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return true;
  return false;
}
