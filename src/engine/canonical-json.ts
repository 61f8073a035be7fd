/**
 * Canonical JSON: object keys sorted at every level, so equal values always serialise (and hash)
 * equally. The one implementation behind the engine's version hash, run fingerprints (`input_hash`)
 * and cache keys. It lives in the engine because the engine imports nothing outside itself;
 * src/platform/json.ts re-exports it for everyone else.
 *
 * Members whose value is undefined are dropped. Null members are kept unless `dropNulls` is set:
 * the cache treats an explicit null filter like an absent one, while a null in a run's inputs is a
 * value. Typed arrays are written as arrays, non-finite numbers as strings ("NaN", "Infinity"),
 * dates as ISO strings. Every stored hash was made from plain JSON data (the engine's inputs, a
 * run's inputs, an HTTP query), on which each former copy wrote exactly these bytes.
 */
export function canonicalJson(value: unknown, options: { dropNulls?: boolean } = {}): string {
  return write(value, options.dropNulls === true);
}

function write(v: unknown, dropNulls: boolean): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : JSON.stringify(String(v));
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    return `[${Array.from(v as ArrayLike<unknown>, (x) => write(x, dropNulls)).join(",")}]`;
  }
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined && !(dropNulls && o[k] === null))
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${write(o[k], dropNulls)}`).join(",")}}`;
  }
  return JSON.stringify(String(v));
}
