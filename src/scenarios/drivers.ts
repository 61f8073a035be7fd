/**
 * Driver payload schemas (TypeBox) and the model parameters a scenario may set. The scenarios
 * API validates assumptions and parameters with them on create and patch, so a run never starts
 * from input the engine would reject.
 */

import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type TSchema, t } from "elysia";
import { knownCapacityCredit, POLICY_NAMES, SHARE_POLICIES, TECHNOLOGY_KEYWORDS } from "../engine/params";
import type { FieldIssue } from "../platform/errors";
import { caseInsensitiveEnum, ENUM_VALUES } from "../platform/schema";
import { isCalendarDay } from "../platform/time";
import type { DriverType } from "./model";

const Year = t.Integer({ minimum: 2000, maximum: 2100 });
const regionText =
  "Applies only to power curves in its scope (docs/model.md §3.1): whose market or location matches (trimmed, case-insensitive), whose market it is an alias of (ISONE for ISO-NE), a US state code (NY, NJ, TX, …) whose markets include it, or a carbon program (RGGI, WCI) covering it. Must cover at least one power curve of GET /v1/curves?product=power, or the scenario is refused (400).";
const Region = t.String({ minLength: 1, maxLength: 64, pattern: "\\S", description: regionText });
const FleetRegion = t.String({ minLength: 1, maxLength: 64, pattern: "\\S", description: `Required: a fleet change belongs to one market or region. ${regionText}` });
/** Where a curve-key field keeps the product its curve must have, for forms (a symbol: not in the OpenAPI document). */
const CURVE_PRODUCT = Symbol("aurum.curveProduct");
/** A curve key; its curve's product is `product`, or the value of the payload's field `{ field }`. */
const curveKey = (description: string, product: string | { field: string }) =>
  Object.assign(t.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$", description }), { [CURVE_PRODUCT]: product });

export const FUELS = ["natural_gas", "coal", "co2", "oil"] as const;
export const CHANGE_TYPES = ["add", "retire"] as const;

export const DRIVER_PAYLOADS = {
  policy: t.Object(
    {
      policy_name: caseInsensitiveEnum(POLICY_NAMES, { description: "The policies the model has an effect for; stored upper-case." }),
      start_year: Year,
      target: t.Number({ minimum: 0, maximum: 10_000, description: "Share 0..1 for RPS/CES; USD per tonne for CARBON_TAX." }),
      target_year: t.Optional(Year),
      region: t.Optional(Region),
    },
    { additionalProperties: false, title: "PolicyDriver" },
  ),
  load_growth: t.Object(
    {
      annual_growth_pct: t.Number({ minimum: -50, maximum: 100 }),
      start_year: Year,
      end_year: Year,
      region: t.Optional(Region),
      reference_curve_key: t.Optional(curveKey("A power curve key of GET /v1/curves: the driver then moves only that curve (and `region`, if given, must match it).", "power")),
    },
    { additionalProperties: false, title: "LoadGrowthDriver" },
  ),
  fuel_curve: t.Object(
    {
      fuel: caseInsensitiveEnum(FUELS),
      reference_series: curveKey("A curve key of GET /v1/curves whose product is `fuel` (a coal driver needs a coal curve).", { field: "fuel" }),
      basis_points_adjustment: t.Number({ minimum: -10_000, maximum: 100_000, description: "Relative shock to the fuel curve in basis points (100 bp = +1 %)." }),
    },
    { additionalProperties: false, title: "FuelCurveDriver" },
  ),
  fleet_change: t.Object(
    {
      fleet_id: t.String({ minLength: 1, maxLength: 64 }),
      change_type: caseInsensitiveEnum(CHANGE_TYPES),
      effective_date: t.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", description: "YYYY-MM-DD" }),
      capacity_mw: t.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
      technology: t.Optional(
        t.String({
          minLength: 1,
          maxLength: 64,
          description: `Must contain one of ${TECHNOLOGY_KEYWORDS.join(", ")} (case-insensitive; the first one found sets the capacity credit, docs/model.md §3). Absent: firm (credit 1.0).`,
        }),
      ),
      region: FleetRegion,
    },
    { additionalProperties: false, title: "FleetChangeDriver" },
  ),
} satisfies Record<DriverType, TSchema>;

/** One field of a driver's form, read off its payload schema (src/console/client/forms.ts draws it). */
export type FormField = {
  name: string;
  kind: "integer" | "number" | "text" | "choice" | "date" | "curve";
  required: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  choices?: readonly string[];
  hint?: string;
  /** A curve picker's product, or the field whose value is the product (a fuel driver's `fuel`). */
  product?: string | { field: string };
};

/**
 * The driver payload schemas as form fields, in schema order: what the console's assumption forms
 * are built from, so a form asks exactly what the API validates.
 */
export function driverForms(): Record<DriverType, FormField[]> {
  type Node = { type?: string; anyOf?: Node[]; pattern?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; description?: string };
  const forms = {} as Record<DriverType, FormField[]>;
  for (const [type, schema] of Object.entries(DRIVER_PAYLOADS) as [DriverType, TSchema][]) {
    const required = new Set<string>(schema.required ?? []);
    forms[type] = Object.entries(schema.properties as Record<string, Node & { [ENUM_VALUES]?: readonly string[]; [CURVE_PRODUCT]?: FormField["product"] }>).map(([name, node]) => {
      const numeric = node.anyOf?.find((m) => m.type === "integer" || m.type === "number") ?? (node.type === "number" || node.type === "integer" ? node : undefined);
      const kind: FormField["kind"] = node[ENUM_VALUES]
        ? "choice"
        : node[CURVE_PRODUCT]
          ? "curve"
          : numeric
            ? (numeric.type as "integer" | "number")
            : node.pattern === "^\\d{4}-\\d{2}-\\d{2}$"
              ? "date"
              : "text";
      const field: FormField = { name, kind, required: required.has(name) };
      for (const key of ["minimum", "maximum", "exclusiveMinimum"] as const) if (numeric?.[key] !== undefined) field[key] = numeric[key];
      if (node[ENUM_VALUES]) field.choices = node[ENUM_VALUES];
      if (node[CURVE_PRODUCT]) field.product = node[CURVE_PRODUCT];
      if (node.description && !node[ENUM_VALUES]) field.hint = node.description;
      return field;
    });
  }
  return forms;
}

/** Parameters the model reads; other keys in `parameters` are the user's own and kept as they are. */
export const MODEL_PARAMETERS = t.Object(
  {
    shock_bp: t.Optional(t.Number({ minimum: -1000, maximum: 1000, description: "Shift of the NPV discount rate in basis points. Default 0." })),
    horizon_months: t.Optional(t.Integer({ minimum: 1, maximum: 480, description: "Months valued from the as-of month. Default 120." })),
    mc_paths: t.Optional(
      t.Integer({
        minimum: 100,
        maximum: 10_000,
        description:
          "Monte Carlo paths for the quarter and calendar bands (monthly bands are closed-form). 100..10000, default 1000 (about 6 % standard error on the upper half-width of a period band; 200 paths: about 17 %).",
      }),
    ),
    seed: t.Optional(t.Integer({ minimum: 0, maximum: 2_147_483_647, description: "Monte Carlo seed. Default 42." })),
    band_quantiles: t.Optional(
      t.Tuple([t.Number({ exclusiveMinimum: 0, maximum: 0.5 }), t.Number({ minimum: 0.5, exclusiveMaximum: 1 })], {
        description: "Lower and upper band quantiles. Default [0.05, 0.95].",
      }),
    ),
    discount_rate: t.Optional(t.Number({ minimum: -0.05, maximum: 1, description: "Annual NPV discount rate before shock_bp. Default 0.08." })),
  },
  { additionalProperties: true, title: "ModelParameters" },
);

type Checker = { Errors: (value: unknown) => Iterable<{ path: string; message: string; schema: unknown }> };
const payloadCheckers: Record<DriverType, Checker> = {
  policy: TypeCompiler.Compile(DRIVER_PAYLOADS.policy),
  load_growth: TypeCompiler.Compile(DRIVER_PAYLOADS.load_growth),
  fuel_curve: TypeCompiler.Compile(DRIVER_PAYLOADS.fuel_curve),
  fleet_change: TypeCompiler.Compile(DRIVER_PAYLOADS.fleet_change),
};
const parameterChecker = TypeCompiler.Compile(MODEL_PARAMETERS);

function schemaIssues(checker: Checker, value: unknown, prefix: string): FieldIssue[] {
  const seen = new Set<string>();
  const issues: FieldIssue[] = [];
  for (const e of checker.Errors(value)) {
    const field = `${prefix}${e.path}`;
    if (seen.has(field)) continue;
    seen.add(field);
    const custom = typeof (e.schema as { error?: unknown }).error === "string" ? (e.schema as { error: string }).error : undefined;
    issues.push({ field, location: "body", message: custom ?? friendlier(e.message, e.schema) });
  }
  return issues;
}

/** TypeBox's messages where they say less than they could: a missing field, a number union. */
function friendlier(message: string, schema: unknown): string {
  if (message === "Expected required property") return "is required";
  return (message === "Expected union value" ? numericUnion(schema) : undefined) ?? message;
}

/**
 * Elysia's t.Integer and t.Number are unions (they also take numeric strings), whose own error
 * says only "Expected union value": say what the number must be instead.
 */
function numericUnion(schema: unknown): string | undefined {
  type Member = { type?: string; minimum?: number; maximum?: number };
  const member = ((schema as { anyOf?: Member[] }).anyOf ?? []).find((m) => m.type === "integer" || m.type === "number");
  if (!member) return undefined;
  const kind = member.type === "integer" ? "an integer" : "a number";
  const { minimum: lo, maximum: hi } = member;
  if (lo !== undefined && hi !== undefined) return `must be ${kind} from ${lo} to ${hi}`;
  if (lo !== undefined) return `must be ${kind} of at least ${lo}`;
  if (hi !== undefined) return `must be ${kind} of at most ${hi}`;
  return `must be ${kind}`;
}

export type Assumption = { driver_type: DriverType; payload: Record<string, unknown>; version?: string };

/** A curve a driver references: it must exist and, when `product` is set, be of that product. */
export type CurveRef = { key: string; field: string; product: string; driver: string };
/** A driver's region: it must match a power curve's market or location; with `curveKey`, that curve's. */
export type RegionRef = { region: string; field: string; curveKey?: string };

/**
 * Checks each payload against its driver's schema and the rules a schema cannot say (unknown
 * technologies among them), normalises enum case, and lists the curves and regions the drivers
 * reference: the caller checks those against the curve store.
 */
export function validateAssumptions(assumptions: Assumption[]): { issues: FieldIssue[]; normalized: Assumption[]; curveRefs: CurveRef[]; regionRefs: RegionRef[] } {
  const issues: FieldIssue[] = [];
  const curveRefs: CurveRef[] = [];
  const regionRefs: RegionRef[] = [];
  const normalized = assumptions.map((a, i) => {
    const at = `/assumptions/${i}/payload`;
    const found = schemaIssues(payloadCheckers[a.driver_type], a.payload, at);
    issues.push(...found);
    if (found.length) return a;
    const p = { ...a.payload } as Record<string, unknown>;
    if (p.region !== undefined) regionRefs.push({ region: p.region as string, field: `${at}/region` });
    switch (a.driver_type) {
      case "policy": {
        p.policy_name = String(p.policy_name).toUpperCase();
        const share = (SHARE_POLICIES as readonly string[]).includes(p.policy_name as string);
        if (share && (p.target as number) > 1) issues.push({ field: `${at}/target`, location: "body", message: `is a share for ${p.policy_name}: 0..1` });
        if (p.target_year !== undefined && (p.target_year as number) < (p.start_year as number))
          issues.push({ field: `${at}/target_year`, location: "body", message: "must not be before start_year" });
        break;
      }
      case "load_growth":
        if ((p.start_year as number) > (p.end_year as number)) issues.push({ field: `${at}/start_year`, location: "body", message: "must not be after end_year" });
        if (p.reference_curve_key !== undefined) {
          curveRefs.push({ key: p.reference_curve_key as string, field: `${at}/reference_curve_key`, product: "power", driver: "load_growth driver" });
          const region = regionRefs.at(-1);
          if (region?.field === `${at}/region`) region.curveKey = p.reference_curve_key as string;
        }
        break;
      case "fuel_curve":
        p.fuel = String(p.fuel).toLowerCase();
        curveRefs.push({ key: p.reference_series as string, field: `${at}/reference_series`, product: p.fuel as string, driver: `${p.fuel} driver` });
        break;
      case "fleet_change": {
        p.change_type = String(p.change_type).toLowerCase();
        const day = String(p.effective_date);
        const y = Number(day.slice(0, 4));
        if (!isCalendarDay(day) || y < 2000 || y > 2100) issues.push({ field: `${at}/effective_date`, location: "body", message: "must be a real date between 2000 and 2100" });
        if (p.technology !== undefined && knownCapacityCredit(p.technology as string) === undefined)
          issues.push({
            field: `${at}/technology`,
            location: "body",
            message: `the model has no parameters for technology '${p.technology}': it must contain one of ${TECHNOLOGY_KEYWORDS.join(", ")} (any case), or be left out for a firm unit`,
          });
        break;
      }
    }
    return { ...a, payload: p };
  });
  return { issues, normalized, curveRefs, regionRefs };
}

export function validateModelParameters(parameters: Record<string, unknown>): FieldIssue[] {
  return schemaIssues(parameterChecker, parameters, "/parameters");
}
