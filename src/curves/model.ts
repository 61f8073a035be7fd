/** Curve schemas: the CSV columns the importer expects and the API's request/response shapes. */
import { t } from "elysia";
import { caseInsensitiveEnum, PageMeta, PlainMeta, queryInteger } from "../platform/schema";

export const PRODUCTS = ["power", "natural_gas", "coal", "co2", "oil"] as const;
export type Product = (typeof PRODUCTS)[number];
export const BLOCKS = ["ON_PEAK", "OFF_PEAK", "ATC"] as const;
export type Block = (typeof BLOCKS)[number];

/** The CSV header, in this order (extra or missing columns reject the file). */
export const CSV_COLUMNS = ["curve_key", "market", "location", "product", "block", "unit", "asof_date", "contract_month", "mid"] as const;

export const CURVE_KEY_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$";

export const Curve = t.Object({
  curve_key: t.String(),
  market: t.String(),
  location: t.String(),
  product: t.String(),
  block: t.String(),
  unit: t.String(),
  first_month: t.String({ format: "date" }),
  last_month: t.String({ format: "date" }),
  latest_asof: t.String({ format: "date" }),
  observations: t.Integer(),
});

export const CurveObservation = t.Object({ asof_date: t.String({ format: "date" }), contract_month: t.String({ format: "date" }), mid: t.Number() });

export const CurveListQuery = t.Object(
  {
    limit: t.Optional(queryInteger("limit", 1, 200, 50)),
    cursor: t.Optional(t.String({ maxLength: 512 })),
    market: t.Optional(t.String({ maxLength: 64 })),
    product: t.Optional(caseInsensitiveEnum(PRODUCTS)),
    block: t.Optional(caseInsensitiveEnum(BLOCKS)),
  },
  { additionalProperties: false },
);

export const CurveGetQuery = t.Object(
  {
    asof_date: t.Optional(t.String({ maxLength: 10, description: "Defaults to the latest as-of date of the curve." })),
    limit: t.Optional(queryInteger("limit", 1, 1000, 120)),
    cursor: t.Optional(t.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const CurveListEnvelope = t.Object({ meta: PageMeta, data: t.Array(Curve) });
export const CurveEnvelope = t.Object({
  meta: t.Intersect([PageMeta, t.Object({ asof_date: t.String() })]),
  data: t.Object({ curve: Curve, observations: t.Array(CurveObservation) }),
});
export const CurveImportEnvelope = t.Object({
  meta: PlainMeta,
  data: t.Object({ rows: t.Integer(), curves: t.Integer(), inserted: t.Integer(), updated: t.Integer() }),
});

export const curveModels = { Curve, CurveListEnvelope, CurveEnvelope, CurveImportEnvelope } as const;
export type CurveRecord = typeof Curve.static;
