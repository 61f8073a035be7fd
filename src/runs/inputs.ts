/**
 * A run's inputs, fixed when it is triggered: the assumptions, the effective parameters, the
 * options that change results, one as-of date and the curve snapshot the engine will read. The
 * worker executes exactly this record and the fingerprint covers all of it, so a run's numbers
 * always belong to the inputs it shows (docs/runs.md, "Inputs").
 */
import { t } from "elysia";
import type { CurveSnapshotRef, CurveSnapshots, SnapshotRows } from "../curves/snapshots";
import { calibrateCurve, MAX_SNAPSHOTS, MIN_SNAPSHOTS } from "../engine/calibrate";
import type { BaselineCurve, CurveCalibration, Driver, EngineInput, Product } from "../engine/types";
import { defaultCalibration } from "../engine/uncertainty";
import { conflict } from "../platform/errors";

export const CurveCalibrationSchema = t.Object(
  {
    source: t.Union([t.Literal("history"), t.Literal("default")], {
      description: "history: fitted from the curve's stored snapshots; default: the product's documented default (too few snapshots).",
    }),
    n_snapshots: t.Integer({ minimum: 0, description: "Snapshots on or before the run's as-of date that the calibration saw (at most the newest 260 are read)." }),
    kappa: t.Number({ description: "Mean reversion of the short-term factor, 1/yr." }),
    sigma_short: t.Number({ description: "Volatility of the short-term factor, 1/√yr." }),
    sigma_long: t.Number({ description: "Volatility of the long-term (random-walk) factor, 1/√yr." }),
    rho: t.Number({ description: "Correlation of the two factors' shocks." }),
    seasonality: t.Optional(t.Array(t.Number(), { minItems: 12, maxItems: 12, description: "Volatility multiplier per delivery calendar month, January first." })),
  },
  { title: "CurveCalibration", description: "Two-factor uncertainty parameters of one curve (docs/model.md §7)." },
);

export const RunInputsSchema = t.Object(
  {
    asof_date: t.String({ format: "date", description: "The run's as-of date: every curve is read at its newest snapshot on or before it; every output row is stamped with it." }),
    assumptions: t.Array(t.Object({ driver_type: t.String(), payload: t.Record(t.String(), t.Unknown()) }), { description: "The scenario's assumptions at trigger time." }),
    parameters: t.Record(t.String(), t.Unknown(), { description: "The scenario's parameters with the run's overrides applied." }),
    options: t.Object({ code_version: t.String(), seed: t.Integer() }, { description: "The run options that change results." }),
    curves: t.Array(
      t.Object({
        curve_key: t.String(),
        asof_date: t.String({ format: "date", description: "The snapshot read: the curve's newest as-of date on or before the run's." }),
        content_hash: t.String({ description: "sha256 of the snapshot's (month, mid) rows; the worker refuses rows that no longer match." }),
      }),
      { description: "Every curve the engine reads." },
    ),
    calibration: t.Optional(
      t.Record(t.String(), CurveCalibrationSchema, {
        description:
          "The bands' two-factor parameters per curve key, calibrated from the snapshots on or before the as-of date when a curve has enough of them, else the product default (docs/model.md §7). Absent only for runs triggered before calibration existed (they use the defaults).",
      }),
    ),
  },
  { title: "RunInputs", description: "Everything the run computes from, fixed when it was triggered." },
);
export type RunInputs = typeof RunInputsSchema.static;

type Assumption = { driver_type: string; payload: Record<string, unknown> };

/** The curve keys drivers name (fuel reference series, load-growth reference curves): a run cannot go without them. */
export function referencedCurves(assumptions: readonly Assumption[]): string[] {
  const keys = new Set<string>();
  for (const a of assumptions) {
    for (const field of ["reference_series", "reference_curve_key"]) {
      const key = a.payload[field];
      if (typeof key === "string") keys.add(key);
    }
  }
  return [...keys];
}

const REMEDY = "import curves with POST /v1/curves:import (CSV, see docs/curves.md), or start the service with the sample set (AURUM_LOAD_SAMPLE_CURVES)";

/**
 * Resolves a trigger's inputs against the curve store: the as-of date (given, or the newest in the
 * store) and each curve's newest snapshot on or before it. A store with nothing to read, or a
 * driver's curve without a snapshot by then, is a 409 that names the curves and the remedy.
 */
export async function resolveInputs(
  curves: CurveSnapshots,
  r: { assumptions: Assumption[]; parameters: Record<string, unknown>; codeVersion: string; seed: number; asofDate?: string | undefined },
): Promise<RunInputs> {
  const required = referencedCurves(r.assumptions);
  const asof = r.asofDate ?? (await curves.latestAsof());
  if (asof === undefined) {
    throw conflict(`the curve store is empty, so there is nothing to run on: ${REMEDY}`, { missing_curves: required, remedy: REMEDY });
  }
  const snapshot = await curves.snapshotsAsOf(asof);
  if (!snapshot.length) {
    throw conflict(`no curve has a snapshot on or before ${asof}: ${REMEDY}, or choose a later asof_date`, { asof_date: asof, missing_curves: required, remedy: REMEDY });
  }
  const have = new Set(snapshot.map((c) => c.curve_key));
  const missing = required.filter((k) => !have.has(k));
  if (missing.length) {
    throw conflict(`the assumptions need curves with no snapshot on or before ${asof}: ${missing.join(", ")}; ${REMEDY}, or choose a later asof_date`, {
      asof_date: asof,
      missing_curves: missing,
      remedy: REMEDY,
    });
  }
  return {
    asof_date: asof,
    assumptions: r.assumptions.map((a) => ({ driver_type: a.driver_type, payload: a.payload })),
    parameters: r.parameters,
    options: { code_version: r.codeVersion, seed: r.seed },
    curves: snapshot.map(({ curve_key, asof_date, content_hash }) => ({ curve_key, asof_date, content_hash })),
    calibration: await calibrate(curves, snapshot, asof),
  };
}

/** Delivery months further than this after a snapshot are not read for calibration. */
const CALIBRATION_YEARS = 10;

/**
 * The calibration of every curve of the run, fixed at trigger time from the snapshots on or before
 * its as-of date: fitted (src/engine/calibrate.ts) for curves with at least MIN_SNAPSHOTS of them,
 * the product default otherwise. A repo without history reads (a test double) gives defaults.
 */
async function calibrate(
  repo: Pick<CurveSnapshots, "snapshotCounts" | "snapshotHistory">,
  snapshot: readonly { curve_key: string; product: string }[],
  asof: string,
): Promise<Record<string, CurveCalibration>> {
  const counts = repo.snapshotCounts ? await repo.snapshotCounts(asof) : new Map<string, number>();
  const enough = snapshot.filter((c) => (counts.get(c.curve_key) ?? 0) >= MIN_SNAPSHOTS).map((c) => c.curve_key);
  const history = new Map<string, { asofDate: string; months: number[]; mid: number[] }[]>();
  if (enough.length && repo.snapshotHistory)
    for (const h of await repo.snapshotHistory(enough, asof, MAX_SNAPSHOTS, CALIBRATION_YEARS)) {
      const list = history.get(h.curve_key) ?? [];
      list.push({ asofDate: h.asof_date, months: h.months, mid: h.mids });
      history.set(h.curve_key, list);
    }
  const out: Record<string, CurveCalibration> = {};
  for (const c of snapshot) {
    const product = c.product as Product;
    const h = history.get(c.curve_key);
    out[c.curve_key] = h ? calibrateCurve(product, h) : defaultCalibration(product, counts.get(c.curve_key) ?? 0);
  }
  return out;
}

/** A run's recorded curve snapshot no longer matches the store: deterministic, so never retried. */
export class SnapshotChangedError extends Error {
  override name = "SnapshotChangedError";
  readonly code = "CURVE_SNAPSHOT_CHANGED";
  readonly retryable = false;
}

/**
 * Checks the rows read against the hashes the run recorded and builds the engine's curves; a
 * snapshot that was re-imported with other values, or deleted, since the trigger fails the run.
 */
export function snapshotCurves(recorded: readonly CurveSnapshotRef[], rows: readonly SnapshotRows[]): BaselineCurve[] {
  const byKey = new Map(rows.map((r) => [r.curve_key, r]));
  const changed = recorded.filter((ref) => byKey.get(ref.curve_key)?.content_hash !== ref.content_hash);
  if (changed.length) {
    const names = changed.map((c) => `${c.curve_key} as of ${c.asof_date}`).join(", ");
    throw new SnapshotChangedError(`curve snapshots changed or were removed after the run was triggered (${names}); trigger the run again to use the current curves`);
  }
  return recorded.map((ref) => {
    const r = byKey.get(ref.curve_key) as SnapshotRows;
    return {
      curveKey: r.curve_key,
      market: r.market,
      location: r.location,
      product: r.product as Product,
      block: r.block,
      unit: r.unit,
      months: Int32Array.from(r.months),
      mid: Float64Array.from(r.mids),
    };
  });
}

/** The engine's view of a run: drivers, model parameters and curves, all from its inputs. */
export function toEngineInput(
  run: { id: string; tenant_id: string; scenario_id: string },
  inputs: RunInputs,
  curves: BaselineCurve[],
  parameters: EngineInput["parameters"],
): EngineInput {
  return {
    tenantId: run.tenant_id,
    scenarioId: run.scenario_id,
    runId: run.id,
    asofDate: inputs.asof_date,
    codeVersion: inputs.options.code_version,
    parameters,
    drivers: inputs.assumptions.map((a) => ({ driver_type: a.driver_type, ...a.payload }) as Driver),
    curves,
    ...(inputs.calibration ? { calibration: inputs.calibration as Record<string, CurveCalibration> } : {}),
  };
}
