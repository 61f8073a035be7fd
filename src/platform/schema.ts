/** Schema helpers shared by the feature models. */
import { t } from "elysia";

/**
 * A string enum accepted in any case (the guide sends `"priority": "NORMAL"`): validated by a
 * case-insensitive pattern, normalised by the service with `normalizeEnum`.
 */
export function caseInsensitiveEnum<const T extends string>(values: readonly T[], options: { description?: string; default?: T } = {}) {
  const alternatives = values.map((v) => [...v].map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join(""));
  return t.String({
    pattern: `^(?:${alternatives.join("|")})$`,
    description: `${options.description ? `${options.description} ` : ""}One of ${values.join(", ")} (any case).`,
    examples: [values[0]],
    error: `must be one of ${values.join(", ")} (any case)`,
    ...(options.default !== undefined ? { default: options.default } : {}),
  });
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

export const ErrorResponse = t.Object(
  {
    error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Unknown()) }),
    meta: t.Object({ request_id: t.String() }),
  },
  { description: "Error envelope" },
);
