/**
 * RFC 9110 §13.1 conditional request headers: entity-tag lists, `*`, and the two comparison
 * functions. `If-Match` uses the strong comparison (a weak tag never matches), `If-None-Match`
 * the weak one (W/"x" matches "x").
 */

export interface EntityTag {
  weak: boolean;
  /** The opaque tag including its quotes, e.g. `"v3"`. */
  opaque: string;
}

/** Parsed `If-Match` / `If-None-Match`: `*`, a list of tags, or `invalid` for a value that is neither. */
export type TagCondition = { any: true } | { any: false; tags: EntityTag[] } | { invalid: true };

/**
 * Parses `#entity-tag` or `*` (RFC 9110 §13.1.1–2). Commas inside a quoted tag are not separators
 * (etagc excludes only DQUOTE, so `"a,b"` is one tag). Empty list elements are skipped (§5.6.1).
 */
export function parseTagCondition(value: string): TagCondition {
  const text = value.trim();
  if (text === "*") return { any: true };
  const tags: EntityTag[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === ",")) i++;
    if (i >= text.length) break;
    let weak = false;
    if (text.startsWith("W/", i)) {
      weak = true;
      i += 2;
    }
    if (text[i] !== '"') return { invalid: true };
    const close = text.indexOf('"', i + 1);
    if (close < 0) return { invalid: true };
    tags.push({ weak, opaque: text.slice(i, close + 1) });
    i = close + 1;
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    if (i < text.length && text[i] !== ",") return { invalid: true };
  }
  if (tags.length === 0) return { invalid: true };
  return { any: false, tags };
}

/** `If-Match` (§13.1.1): true when the condition holds for a resource whose current strong ETag is `current` (undefined: no current representation). */
export function ifMatchHolds(condition: TagCondition, current: string | undefined): boolean {
  if ("invalid" in condition) return false;
  if (condition.any) return current !== undefined;
  return current !== undefined && condition.tags.some((t) => !t.weak && t.opaque === current);
}

/** `If-None-Match` (§13.1.2): true when the condition holds, i.e. no listed tag weakly matches `current`. */
export function ifNoneMatchHolds(condition: TagCondition, current: string | undefined): boolean {
  if ("invalid" in condition) return false;
  if (condition.any) return current === undefined;
  return current === undefined || !condition.tags.some((t) => t.opaque === current);
}
