/** Schema helpers shared by the feature models. */
import { FormatRegistry } from "@sinclair/typebox";
import { t } from "elysia";
import { isCalendarDay } from "./time";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The string formats our schemas use, as plain checks. @elysiajs/openapi replaces TypeBox's
 * `uuid` and `date` formats, when it is imported, with checks that build a valibot/zod schema on
 * every call: validating the 100 rows of one /outputs page (two UUIDs each) took ~1.8 ms of the
 * ~2.3 ms a cached page cost. createApp calls this after every import has run. Same meaning:
 * a UUID in hex form (any version, as Postgres accepts), a real calendar day `YYYY-MM-DD`.
 */
export function registerFormats(): void {
  FormatRegistry.Set("uuid", (v) => UUID.test(v));
  FormatRegistry.Set("date", isCalendarDay);
}

/** Where caseInsensitiveEnum keeps its values for code (a symbol: invisible to JSON and the OpenAPI document). */
export const ENUM_VALUES = Symbol("aurum.enumValues");

/**
 * A string enum accepted in any case (the guide sends `"priority": "NORMAL"`): validated by a
 * case-insensitive pattern, normalised by the service with `normalizeEnum`.
 */
export function caseInsensitiveEnum<const T extends string>(values: readonly T[], options: { description?: string; default?: T } = {}) {
  const alternatives = values.map((v) => [...v].map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join(""));
  const schema = t.String({
    pattern: `^(?:${alternatives.join("|")})$`,
    description: `${options.description ? `${options.description} ` : ""}One of ${values.join(", ")} (any case).`,
    examples: [values[0]],
    error: `must be one of ${values.join(", ")} (any case)`,
    ...(options.default !== undefined ? { default: options.default } : {}),
  });
  return Object.assign(schema, { [ENUM_VALUES]: values });
}

export function normalizeEnum<const T extends string>(values: readonly T[], raw: string): T {
  const found = values.find((v) => v.toLowerCase() === raw.toLowerCase());
  if (found === undefined) throw new Error(`not one of ${values.join(", ")}: ${raw}`);
  return found;
}

/** An integer query parameter; its error names the field because coercion failures arrive without a path. */
export function queryInteger(field: string, min: number, max: number, def?: number) {
  return t.Integer({ minimum: min, maximum: max, ...(def !== undefined ? { default: def } : {}), error: `${field}: must be an integer from ${min} to ${max}` });
}

export const Uuid = t.String({ format: "uuid", error: "must be a UUID" });

const metaFields = { request_id: t.String(), query_time_ms: t.Number() };

/** The `meta` of a success envelope: the request id and the time the query took; a route may add members. */
export const Meta = t.Object(metaFields, { additionalProperties: true });

/** `meta` with exactly those two members. */
export const PlainMeta = t.Object(metaFields);

/** `meta` of a keyset-paged list: pass `next_cursor` back as `cursor` (null on the last page). */
export const PageMeta = t.Object({ ...metaFields, count: t.Integer(), limit: t.Integer(), next_cursor: t.Union([t.String(), t.Null()]) });

export const ErrorResponse = t.Object(
  {
    error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Unknown()) }),
    meta: t.Object({ request_id: t.String() }),
  },
  { description: "Error envelope" },
);
