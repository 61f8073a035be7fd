/**
 * Opaque keyset cursors: base64url JSON of the last row's sort key plus a fingerprint of the
 * filters, so a cursor reused with other filters is a 400 instead of a silently wrong page.
 */
import { badRequest } from "./errors";

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
