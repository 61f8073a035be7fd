/**
 * runScenario: deterministic central estimate + seeded Monte Carlo bands, hour-weighted tenors, attribution.
 * Pure and synchronous; all hot loops run on typed arrays. docs/model.md documents every formula.
 */
import {
  ATC,
  type BlockCode,
  blockCode,
  calendarLabel,
  daysInMonth,
  hoursInBlock,
  monthIndex,
  monthLabel,
  OFF_PEAK,
  ON_PEAK,
  parseDateToYyyymm,
  quarterLabel,
  yyyymmOf,
} from "./calendar";
import { buildDriverTables, type DriverTable, fleetTable } from "./effects";
import { assertFiniteRow } from "./finite";
import { canonicalJson, Fnv1a64 } from "./hash";
import { referenceCapacity } from "./params";
import type { BaselineCurve, Driver, EngineInput, EngineResult, ModelParameters, OutputBatch, RunOptions, TenorType } from "./types";
import { CurveBands, RunBands } from "./uncertainty";
import { EngineValidationError, validateInput } from "./validate";

/** Metrics emitted for every (curve, tenor, period), in this order. */
export const METRICS = ["mid", "baseline", "uplift", "policy_uplift", "NPV"] as const;
const M_MID = 0;
const M_BASE = 1;
const M_UP = 2;
const M_POL = 3;
const M_NPV = 4;
const NM = 5;
export const DEFAULT_BATCH_ROWS = 50_000;

class BatchWriter {
  readonly batches: OutputBatch[] = [];
  private cur: OutputBatch | null = null;
  private n = 0;
  private cap = 0;
  private remaining: number;
  constructor(
    private readonly batchRows: number,
    total: number,
  ) {
    this.remaining = total;
  }

  private open(): OutputBatch {
    const cap = Math.min(this.batchRows, this.remaining);
    this.remaining -= cap;
    this.cap = cap;
    this.n = 0;
    const b: OutputBatch = {
      length: 0,
      curveKey: new Array<string>(cap),
      tenorType: new Array<TenorType>(cap),
      contractMonth: new Int32Array(cap),
      tenorLabel: new Array<string>(cap),
      metric: new Array<string>(cap),
      value: new Float64Array(cap),
      bandLower: new Float64Array(cap),
      bandUpper: new Float64Array(cap),
      attribution: new Array<string | null>(cap),
    };
    this.batches.push(b);
    this.cur = b;
    return b;
  }

  push(curveKey: string, tenor: TenorType, month: number, label: string, metric: string, value: number, lo: number, hi: number, attr: string | null): void {
    assertFiniteRow(curveKey, tenor, month, label, metric, value, lo, hi, attr);
    const b = this.cur !== null && this.n < this.cap ? this.cur : this.open();
    const i = this.n++;
    b.curveKey[i] = curveKey;
    b.tenorType[i] = tenor;
    b.contractMonth[i] = month;
    b.tenorLabel[i] = label;
    b.metric[i] = metric;
    b.value[i] = value;
    b.bandLower[i] = lo;
    b.bandUpper[i] = hi;
    b.attribution[i] = attr;
    b.length = this.n;
  }
}

function abortError(): Error {
  const e = new Error("scenario run aborted");
  e.name = "AbortError";
  return e;
}

/** Deterministic input hash: FNV-1a 64 over canonical JSON of (codeVersion, asofDate, parameters, drivers, curve headers) + curve numbers as binary64. */
export function computeVersionHash(input: EngineInput, parameters: ModelParameters): string {
  const h = new Fnv1a64();
  h.string(
    canonicalJson({
      engine: "aurum-scenario-engine/1",
      codeVersion: input.codeVersion,
      asofDate: input.asofDate,
      parameters,
      drivers: input.drivers,
      calibration: input.calibration,
    }),
  );
  for (const c of input.curves) {
    h.string(canonicalJson([c.curveKey, c.market, c.location, c.product, c.block, c.unit, c.months.length]));
    for (let i = 0; i < c.months.length; i++) h.float64(c.months[i]!).float64(c.mid[i]!);
  }
  return `fnv1a64:${h.hex()}`;
}

interface CurvePlan {
  curve: BaselineCurve;
  /** horizon offset of the first valued month */
  a: number;
  /** index in curve arrays of the first valued month */
  i0: number;
  /** valued months */
  T: number;
  nQ: number;
  nY: number;
}

function regionMatches(region: string | undefined, c: BaselineCurve): boolean {
  if (region === undefined || region === null || region.trim() === "") return true;
  const r = region.trim().toLowerCase();
  return c.market.trim().toLowerCase() === r || c.location.trim().toLowerCase() === r;
}

/** Does driver d move curve c? (see docs/model.md §4.0) */
export function driverApplies(d: Driver, c: BaselineCurve): boolean {
  if (c.product !== "power") return d.driver_type === "fuel_curve" && d.reference_series === c.curveKey;
  switch (d.driver_type) {
    case "fuel_curve":
      return true;
    case "load_growth":
      return regionMatches(d.region, c) && (d.reference_curve_key === undefined || d.reference_curve_key === null || d.reference_curve_key === c.curveKey);
    default:
      return regionMatches(d.region, c);
  }
}

export function runScenario(input: EngineInput, opts: RunOptions = {}): EngineResult {
  const { issues, parameters: P } = validateInput(input);
  if (issues.length > 0) throw new EngineValidationError(issues);
  const batchRows = Math.max(1, Math.floor(opts.batchRows ?? DEFAULT_BATCH_ROWS));
  const H = P.horizon_months;
  const h0 = monthIndex(parseDateToYyyymm(input.asofDate));
  const hEnd = h0 + H - 1;
  const nPaths = P.mc_paths;
  const rate = P.discount_rate + P.shock_bp / 10000;

  // ---- horizon tables
  const hYm = new Int32Array(H);
  const hOnShare = new Float64Array(H);
  const hDF = new Float64Array(H);
  const labels: string[] = new Array(H);
  const qLabels: string[] = new Array(H);
  const yLabels: string[] = new Array(H);
  for (let k = 0; k < H; k++) {
    const ym = yyyymmOf(h0 + k);
    hYm[k] = ym;
    hOnShare[k] = hoursInBlock(ym, ON_PEAK) / hoursInBlock(ym, ATC);
    hDF[k] = (1 + rate / 12) ** -(k + 1);
    labels[k] = monthLabel(ym);
    qLabels[k] = quarterLabel(ym);
    yLabels[k] = calendarLabel(ym);
  }

  const curvesByKey = new Map<string, BaselineCurve>();
  for (const c of input.curves) curvesByKey.set(c.curveKey, c);
  const drivers = input.drivers;
  const tables: DriverTable[] = buildDriverTables(drivers, h0, H, curvesByKey);
  const attrKeys = drivers.map((d, i) => `"${d.driver_type}:${i}":`);
  const isPolicy = drivers.map((d) => d.driver_type === "policy");

  // ---- plans and row count
  const plans: CurvePlan[] = [];
  let total = 0;
  let maxT = 0;
  for (const c of input.curves) {
    const n = c.months.length;
    if (n === 0) {
      plans.push({ curve: c, a: 0, i0: 0, T: 0, nQ: 0, nY: 0 });
      continue;
    }
    const first = monthIndex(c.months[0]!);
    const lo = Math.max(first, h0);
    const hi = Math.min(first + n - 1, hEnd);
    const T = Math.max(0, hi - lo + 1);
    let nQ = 0;
    let nY = 0;
    for (let m = lo; m <= hi; m++) {
      if (m % 3 === 0 && m + 2 <= hi) nQ++;
      if (m % 12 === 0 && m + 11 <= hi) nY++;
    }
    plans.push({ curve: c, a: lo - h0, i0: lo - first, T, nQ, nY });
    total += NM * (T + nQ + nY);
    if (T > maxT) maxT = T;
  }

  const writer = new BatchWriter(batchRows, total);
  const versionHash = computeVersionHash(input, P);

  // ---- scratch (reused across curves)
  const ws = new Workspace(maxT, drivers.length);
  const bands = new RunBands(input.curves, input.calibration, { nPaths, qLo: P.band_quantiles[0], qHi: P.band_quantiles[1], seed: P.seed, hYm });
  const cb = new CurveBands(maxT, nPaths);

  for (let ci = 0; ci < plans.length; ci++) {
    if (opts.signal?.aborted) throw abortError();
    const plan = plans[ci]!;
    if (plan.T > 0) {
      runCurve(plan, ws, {
        drivers,
        tables,
        attrKeys,
        isPolicy,
        h0,
        H,
        hYm,
        hOnShare,
        hDF,
        labels,
        qLabels,
        yLabels,
        bands,
        cb,
        writer,
      });
    }
    opts.onProgress?.(ci + 1, plans.length);
  }
  return { batches: writer.batches, versionHash, rows: total, bandStats: bands.stats() };
}

class Workspace {
  base: Float64Array;
  vals: Float64Array; // NM × T: mid, baseline, uplift, policy_uplift, NPV
  weight: Float64Array; // hours (aggregation weight)
  npvCoef: Float64Array; // DF × hours (power) or DF × days (fuels)
  contrib: Float64Array; // nd × T
  part: Float64Array; // per-driver aggregate scratch
  constructor(maxT: number, nd: number) {
    this.base = new Float64Array(maxT);
    this.vals = new Float64Array(NM * maxT);
    this.weight = new Float64Array(maxT);
    this.npvCoef = new Float64Array(maxT);
    this.contrib = new Float64Array(Math.max(1, nd * maxT));
    this.part = new Float64Array(Math.max(1, nd));
  }
}

interface RunCtx {
  drivers: readonly Driver[];
  tables: DriverTable[];
  attrKeys: string[];
  isPolicy: boolean[];
  h0: number;
  H: number;
  hYm: Int32Array;
  hOnShare: Float64Array;
  hDF: Float64Array;
  labels: string[];
  qLabels: string[];
  yLabels: string[];
  bands: RunBands;
  cb: CurveBands;
  writer: BatchWriter;
}

/** Band of a scalar multiple v·M where M has quantiles [mLo, mHi]; clamped to contain v. */
function bandLo(v: number, mLo: number, mHi: number): number {
  const b = v >= 0 ? v * mLo : v * mHi;
  return Math.min(b, v);
}
function bandHi(v: number, mLo: number, mHi: number): number {
  const b = v >= 0 ? v * mHi : v * mLo;
  return Math.max(b, v);
}

function attrJson(keys: string[], idx: Int32Array, n: number, vals: Float64Array): string {
  let s = "{";
  for (let j = 0; j < n; j++) {
    if (j > 0) s += ",";
    s += keys[idx[j]!]! + jsonNum(vals[j]!);
  }
  return `${s}}`;
}

function jsonNum(v: number): string {
  return Object.is(v, -0) ? "0" : `${v}`;
}

function runCurve(plan: CurvePlan, ws: Workspace, cx: RunCtx): void {
  const { curve, a, i0, T } = plan;
  const isPower = curve.product === "power";
  const code: BlockCode = isPower ? blockCode(curve.block) : ATC;
  const { base, vals, weight, npvCoef, contrib } = ws;
  const H = cx.H;

  // ---- applicable drivers
  const dIdx = new Int32Array(cx.drivers.length);
  let nd = 0;
  for (let i = 0; i < cx.drivers.length; i++) if (driverApplies(cx.drivers[i]!, curve)) dIdx[nd++] = i;
  const pIdx = new Int32Array(nd);
  let np = 0;
  for (let j = 0; j < nd; j++) if (cx.isPolicy[dIdx[j]!]) pIdx[np++] = dIdx[j]!;

  // ---- baseline, weights
  for (let t = 0; t < T; t++) {
    const k = a + t;
    const ym = cx.hYm[k]!;
    base[t] = curve.mid[i0 + t]!;
    weight[t] = hoursInBlock(ym, code);
    npvCoef[t] = cx.hDF[k]! * (isPower ? weight[t]! : daysInMonth(ym));
  }

  // ---- driver contributions (USD per unit), additive in price space
  for (let j = 0; j < nd; j++) {
    const di = dIdx[j]!;
    const d = cx.drivers[di]!;
    const off = j * T;
    if (!isPower) {
      // fuel curve: only fuel_curve drivers that reference it; ΔF = |F|·bp/10000
      const s = d.driver_type === "fuel_curve" ? d.basis_points_adjustment / 10000 : 0;
      for (let t = 0; t < T; t++) contrib[off + t] = Math.abs(base[t]!) * s;
      continue;
    }
    let tab = cx.tables[di]!.table;
    if (tab === null) {
      const R = referenceCapacity(curve.market);
      const cache = cx.tables[di]!.fleetCache!;
      tab = cache.get(R) ?? null;
      if (tab === null) {
        tab = fleetTable(d as Extract<Driver, { driver_type: "fleet_change" }>, R, cx.h0, H);
        cache.set(R, tab);
      }
    }
    for (let t = 0; t < T; t++) {
      const k = a + t;
      const L = Math.abs(base[t]!);
      let v: number;
      if (code === ON_PEAK) v = L * tab[k]! + tab[2 * H + k]!;
      else if (code === OFF_PEAK) v = L * tab[H + k]! + tab[3 * H + k]!;
      else {
        const w = cx.hOnShare[k]!;
        v = L * (w * tab[k]! + (1 - w) * tab[H + k]!) + (w * tab[2 * H + k]! + (1 - w) * tab[3 * H + k]!);
      }
      contrib[off + t] = v;
    }
  }

  // ---- central values
  for (let t = 0; t < T; t++) {
    let up = 0;
    let pol = 0;
    for (let j = 0; j < nd; j++) {
      const v = contrib[j * T + t]!;
      up += v;
      if (cx.isPolicy[dIdx[j]!]) pol += v;
    }
    vals[M_MID * T + t] = base[t]! + up;
    vals[M_BASE * T + t] = base[t]!;
    vals[M_UP * T + t] = up;
    vals[M_POL * T + t] = pol;
    vals[M_NPV * T + t] = npvCoef[t]! * up;
  }

  // ---- bands (src/engine/uncertainty.ts): closed-form monthly quantiles, Monte Carlo periods.
  // Integration point: cb.fuelLo/Hi and cb.powerLo/Hi (and cb.aggFuel*/aggPower*) are the band points
  // split into fuel and power multipliers (docs/model.md §7.4); here the total multiplier is applied.
  const cb = cx.cb;
  cx.bands.curve(curve, { a, T, hFirst: cx.h0 + a, weight, mid: vals.subarray(M_MID * T, M_MID * T + T), qLabels: cx.qLabels, yLabels: cx.yLabels }, cb);
  const { mLo, mHi, aggLo, aggHi } = cb;
  const hFirst = cx.h0 + a; // absolute month index of t = 0
  const hLast = hFirst + T - 1;

  // ---- emit rows
  const w = cx.writer;
  const key = curve.curveKey;
  const part = ws.part;
  for (let t = 0; t < T; t++) {
    const k = a + t;
    const ym = cx.hYm[k]!;
    const lab = cx.labels[k]!;
    const lo = mLo[t]!;
    const hi = mHi[t]!;
    for (let mi = 0; mi < NM; mi++) {
      const v = vals[mi * T + t]!;
      let attr: string | null = null;
      if (mi === M_UP || mi === M_NPV) {
        const scale = mi === M_NPV ? npvCoef[t]! : 1;
        for (let j = 0; j < nd; j++) part[j] = scale * contrib[j * T + t]!;
        attr = attrJson(cx.attrKeys, dIdx, nd, part);
      } else if (mi === M_POL) {
        let q = 0;
        for (let j = 0; j < nd; j++) if (cx.isPolicy[dIdx[j]!]) part[q++] = contrib[j * T + t]!;
        attr = attrJson(cx.attrKeys, pIdx, np, part);
      }
      w.push(key, "MONTHLY", ym, lab, METRICS[mi]!, v, bandLo(v, lo, hi), bandHi(v, lo, hi), attr);
    }
  }
  // quarters, then calendar years
  let slot = 0;
  for (let pass = 0; pass < 2; pass++) {
    const len = pass === 0 ? 3 : 12;
    const tenor: TenorType = pass === 0 ? "QUARTER" : "CALENDAR";
    for (let t = 0; t < T; t++) {
      const m = hFirst + t;
      if (m % len !== 0 || m + len - 1 > hLast) continue;
      const k = a + t;
      let W = 0;
      for (let u = t; u < t + len; u++) W += weight[u]!;
      const lab = pass === 0 ? cx.qLabels[k]! : cx.yLabels[k]!;
      for (let mi = 0; mi < NM; mi++) {
        let v = 0;
        for (let u = t; u < t + len; u++) v += mi === M_NPV ? vals[mi * T + u]! : weight[u]! * vals[mi * T + u]!;
        if (mi !== M_NPV) v /= W;
        let attr: string | null = null;
        if (mi >= M_UP) {
          let q = 0;
          for (let j = 0; j < nd; j++) {
            if (mi === M_POL && !cx.isPolicy[dIdx[j]!]) continue;
            let c = 0;
            const off = j * T;
            if (mi === M_NPV) for (let u = t; u < t + len; u++) c += npvCoef[u]! * contrib[off + u]!;
            else {
              for (let u = t; u < t + len; u++) c += weight[u]! * contrib[off + u]!;
              c /= W;
            }
            part[q++] = c;
          }
          attr = attrJson(cx.attrKeys, mi === M_POL ? pIdx : dIdx, q, part);
        }
        const sl = aggLo[slot]!;
        const sh = aggHi[slot]!;
        w.push(key, tenor, cx.hYm[k]!, lab, METRICS[mi]!, v, bandLo(v, sl, sh), bandHi(v, sl, sh), attr);
      }
      slot++;
    }
  }
}
