/**
 * How non-finite doubles are spelled wherever JSON carries them: the strings "NaN", "Infinity" and
 * "-Infinity", as the NDJSON export already wrote them (Postgres' `row_to_json` spelling, see
 * encoders.ts). JSON has no such numbers, so JSON.stringify would write null (losing the value) and
 * the response schema would refuse the row (a 500); a stored value must never break a read.
 */
export const NON_FINITE_SPELLINGS = ["NaN", "Infinity", "-Infinity"] as const;
export type NonFiniteSpelling = (typeof NON_FINITE_SPELLINGS)[number];
/** A double as the JSON APIs carry it. */
export type JsonDouble = number | NonFiniteSpelling;

/** A finite double as is; NaN and ±Infinity as their strings. */
export function spellDouble(v: number): JsonDouble;
export function spellDouble(v: number | null): JsonDouble | null;
export function spellDouble(v: number | null): JsonDouble | null {
  return v === null || Number.isFinite(v) ? v : (String(v) as NonFiniteSpelling);
}

const finite = (v: unknown) => v === null || typeof v !== "number" || Number.isFinite(v);

/** An attribution object with non-finite entries spelled (the object itself when it has none). */
function spellAttribution(a: Record<string, unknown> | null): Record<string, unknown> | null {
  if (a === null) return a;
  let out: Record<string, unknown> | null = null;
  for (const k in a) {
    const v = a[k];
    if (finite(v)) continue;
    out ??= { ...a };
    out[k] = spellDouble(v as number);
  }
  return out ?? a;
}

/** The doubles of an output or latest row (row.ts), named structurally: row.ts spells its types with this file's. */
type RowDoubles = { value: number; band_lower: number | null; band_upper: number | null };

/** A row for a JSON page with its doubles spelled; rows without a non-finite value are returned as they are (no copy). */
export function spellRow<T extends RowDoubles>(row: T): T {
  const attribution = "attribution" in row ? spellAttribution(row.attribution as Record<string, unknown> | null) : null;
  if (finite(row.value) && finite(row.band_lower) && finite(row.band_upper) && (!("attribution" in row) || attribution === row.attribution)) return row;
  const out = { ...row, value: spellDouble(row.value), band_lower: spellDouble(row.band_lower), band_upper: spellDouble(row.band_upper) } as Record<string, unknown>;
  if ("attribution" in row) out.attribution = attribution;
  return out as T;
}

const TOKENS = ["-Infinity", "Infinity", "NaN"];

/**
 * JSON-like text whose bare NaN/±Infinity tokens (what `${number}` prints, as the engine's
 * attribution text did) are quoted, so it is JSON again. Text inside strings is left alone;
 * outside strings JSON has no other word starting with "-I", "I" or "N".
 */
export function quoteNonFinite(text: string): string {
  if (!text.includes("Infinity") && !text.includes("NaN")) return text;
  let out = "";
  let from = 0;
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) === 34) {
      // a string: skip to its closing quote, over escapes
      for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 92) i++;
        else if (c === 34) break;
      }
      i++;
      continue;
    }
    const token = TOKENS.find((t) => text.startsWith(t, i));
    if (token) {
      out += `${text.slice(from, i)}"${token}"`;
      i += token.length;
      from = i;
    } else i++;
  }
  return out + text.slice(from);
}

/** Stored attribution text as an object; text written before writers quoted non-finite entries reads too. */
export function parseAttribution(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(quoteNonFinite(text));
  }
}
