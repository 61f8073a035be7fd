/**
 * runScenario: deterministic central estimate + seeded Monte Carlo bands, hour-weighted tenors, attribution.
 * Pure and synchronous; all hot loops run on typed arrays. docs/model.md documents every formula.
 */

import { emptyBatch } from "./batch";
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
import { canonicalJson } from "./canonical-json";
import { blockScale, buildDriverPlans, type DriverPlan, marketGasPrices, planApplies } from "./effects";
import { assertFiniteRow } from "./finite";
import { Fnv1a64 } from "./hash";
import { DEFAULT_HEAT_RATE, IMPLIED_HEAT_RATE_BOUNDS, MARKET_STACK, MIN_GAS_PRICE } from "./params";
import { type MarketKey, marketOf } from "./scope";
import {
  airportShapley,
  type BlockStack,
  blockStack,
  G_CES,
  G_CO2,
  G_COAL,
  G_ENERGY,
  G_GAS,
  G_OIL,
  G_RPS,
  GROUP_INPUTS,
  IN_CES,
  IN_CO2,
  IN_COAL,
  IN_GAS,
  IN_K,
  IN_LOAD,
  IN_OIL,
  IN_RPS,
  IN_TAX,
  IN_ZC,
  IN_ZR,
  N_GROUPS,
  N_IN,
  shapley,
  stackPrice,
} from "./stack";
import type { BaselineCurve, Driver, EngineInput, EngineResult, EngineSummary, ModelParameters, OutputBatch, RunOptions, TenorType } from "./types";
import { CurveBands, RunBands } from "./uncertainty";
import { unitFactor } from "./units";
import { EngineValidationError, unitIssues, validateInput } from "./validate";

/**
 * Metrics emitted for every (curve, tenor, period), in this order (docs/model.md §4–§6):
 * mid, baseline, uplift, policy_uplift (price, curve unit), NPV (USD per MW or per fuel unit/day),
 * rec_cost (USD/MWh of load), npv_per_bp (NPV change per +1 bp of shock_bp), mid_per_gas
 * (mid change per USD/MMBtu of gas price).
 */
export const METRICS = ["mid", "baseline", "uplift", "policy_uplift", "NPV", "rec_cost", "npv_per_bp", "mid_per_gas"] as const;
export const M_MID = 0;
export const M_BASE = 1;
export const M_UP = 2;
export const M_POL = 3;
export const M_NPV = 4;
export const M_REC = 5;
export const M_NPVBP = 6;
export const M_GAS = 7;
export const NM = 8;
/** Metrics with an attribution (per-driver parts that sum to the value); the others have null (npv_per_bp's parts are NPV's × npv_per_bp/NPV). */
const ATTRIBUTED = [false, false, true, true, true, true, false, false];
/** Metrics aggregated over a quarter/year as sums (the others: hour-weighted averages). */
const SUMMED = [false, false, false, false, true, false, true, false];
export const DEFAULT_BATCH_ROWS = 50_000;

/**
 * Fills batches of `batchRows` rows. Full batches wait in `ready` until the caller takes them
 * (`take`), so a caller that takes them as they come holds at most one batch and one curve's rows.
 *
 * A row's attribution arrives as its parts (driver indexes into `keys` and their numbers). By
 * default each becomes its JSON text in `attribution`. With `packed` (RunOptions.attributionText)
 * the batch's texts are written as pieces joined once per batch into `attributionText` instead:
 * no string per row, and none of the partial strings a text built row by row leaves behind. An
 * engine thread's collector then has far less to do (docs/performance.md, "Runs across threads").
 */
class BatchWriter {
  private ready: OutputBatch[] = [];
  private cur: OutputBatch | null = null;
  private n = 0;
  private cap = 0;
  private remaining: number;
  /** Packed: the current batch's attribution pieces, their length so far, and per row where its text ends and whether it is null. */
  private pieces: string[] = [];
  private textLength = 0;
  private ends = new Uint32Array(0);
  private isNull = new Uint8Array(0);
  /** Packed: each key opening a text (`{"policy:0":`) and following another part (`,"policy:0":`). */
  private readonly first: string[];
  private readonly later: string[];
  constructor(
    private readonly batchRows: number,
    total: number,
    /** `"driver_type:index":` per driver of the run. */
    private readonly keys: string[],
    private readonly packed: boolean,
  ) {
    this.remaining = total;
    this.first = keys.map((k) => `{${k}`);
    this.later = keys.map((k) => `,${k}`);
  }

  private open(): OutputBatch {
    const cap = Math.min(this.batchRows, this.remaining);
    this.remaining -= cap;
    this.cap = cap;
    this.n = 0;
    const b = emptyBatch(cap);
    if (this.packed) {
      b.attribution = [];
      this.ends = new Uint32Array(cap);
      this.isNull = new Uint8Array(cap);
    }
    this.cur = b;
    return b;
  }

  /** Adds a row; its attribution is parts `vals[0..n)` of drivers `idx[0..n)`, or null without `idx`. */
  push(
    curveKey: string,
    tenor: TenorType,
    month: number,
    label: string,
    metric: string,
    value: number,
    lo: number,
    hi: number,
    idx: Int32Array | null,
    n: number,
    vals: Float64Array,
  ): void {
    const b = this.cur !== null && this.n < this.cap ? this.cur : this.open();
    const i = this.n;
    let attr: string | null = null;
    let finite = Number.isFinite(value) && Number.isFinite(lo) && Number.isFinite(hi);
    if (this.packed) finite = this.packAttribution(i, idx, n, vals) && finite;
    else if (idx !== null) {
      attr = attrJson(this.keys, idx, n, vals);
      finite = attrFinite && finite;
    }
    // The numbers were checked here; only a row that fails needs its text, for the error's message.
    if (!finite) assertFiniteRow(curveKey, tenor, month, label, metric, value, lo, hi, idx === null ? null : (attr ?? attrJson(this.keys, idx, n, vals)));
    this.n++;
    b.curveKey[i] = curveKey;
    b.tenorType[i] = tenor;
    b.contractMonth[i] = month;
    b.tenorLabel[i] = label;
    b.metric[i] = metric;
    b.value[i] = value;
    b.bandLower[i] = lo;
    b.bandUpper[i] = hi;
    if (!this.packed) b.attribution[i] = attr;
    b.length = this.n;
    if (this.n === this.cap) this.finish(b);
  }

  /** Row i's attribution text, as attrJson would write it, appended to the batch's pieces; whether its numbers are finite. */
  private packAttribution(i: number, idx: Int32Array | null, n: number, vals: Float64Array): boolean {
    if (idx === null) {
      this.isNull[i] = 1;
      this.ends[i] = this.textLength;
      return true;
    }
    const pieces = this.pieces;
    let length = this.textLength;
    let finite = true;
    for (let j = 0; j < n; j++) {
      const v = vals[j]!;
      if (!Number.isFinite(v)) finite = false;
      const key = (j === 0 ? this.first : this.later)[idx[j]!]!;
      const number = v === 0 ? "0" : `${v}`; // −0 prints as 0
      pieces.push(key, number);
      length += key.length + number.length;
    }
    pieces.push(n === 0 ? "{}" : "}");
    length += n === 0 ? 2 : 1;
    this.textLength = length;
    this.ends[i] = length;
    return finite;
  }

  /** A batch is complete: to `ready`, with its attribution text joined once if packed. */
  private finish(b: OutputBatch): void {
    if (this.packed) {
      b.attributionText = { text: this.pieces.join(""), ends: this.ends, isNull: this.isNull };
      this.pieces = [];
      this.textLength = 0;
    }
    this.ready.push(b);
    this.cur = null;
  }

  /** The batches filled since the last call; with `end`, the one being filled too (normally none: the last batch's capacity is the rows left). */
  take(end = false): OutputBatch[] {
    if (end && this.cur !== null && this.n > 0) this.finish(this.cur);
    const out = this.ready;
    this.ready = [];
    return out;
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
      engine: "aurum-scenario-engine/2",
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

/** One curve's place in the horizon. */
export interface CurvePlan {
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

/** Does driver d move curve c? (docs/model.md §4.0; curvesByKey resolves a fuel driver's curve.) */
export function driverApplies(d: Driver, c: BaselineCurve, curvesByKey: Map<string, BaselineCurve> = new Map()): boolean {
  if (d.driver_type === "fuel_curve" && !curvesByKey.has(d.reference_series)) return c.product !== "power" ? d.reference_series === c.curveKey : false;
  const [plan] = buildDriverPlans([d], 0, 0, curvesByKey);
  return planApplies(plan!, c);
}

/**
 * Validates the input and builds the per-run tables and each curve's place in the horizon: what
 * runScenario and evaluateMonth read. Throws EngineValidationError like runScenario.
 */
export function planRun(input: EngineInput): {
  parameters: ModelParameters;
  run: RunTables;
  curves: CurvePlan[];
  total: number;
  maxT: number;
  labels: string[];
  qLabels: string[];
  yLabels: string[];
} {
  const { issues, parameters: P } = validateInput(input);
  if (issues.length > 0) throw new EngineValidationError(issues);
  const H = P.horizon_months;
  const h0 = monthIndex(parseDateToYyyymm(input.asofDate));
  const hEnd = h0 + H - 1;
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
  const plansD: DriverPlan[] = buildDriverPlans(drivers, h0, H, curvesByKey);
  // canonical driver order (by canonical JSON, then index): inputs are aggregated in this order, so
  // the order of the assumptions cannot change a single bit of the outputs
  const keyed = drivers.map((d, i) => [canonicalJson(d), i] as const);
  keyed.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] - y[1]));
  const canon = keyed.map(([, i]) => i);
  const gasSources = new Map<MarketKey, string[]>();
  const gas = marketGasPrices(input.curves, h0, H, gasSources);
  // units matter for the curves the drivers move or read (§3.2); the others keep any unit
  const moved = input.curves.map((c) => c.product === "power" && plansD.some((p) => planApplies(p, c)));
  const read = new Set<string>(plansD.flatMap((p) => (p.ref ? [p.ref] : [])));
  input.curves.forEach((c, i) => {
    if (moved[i]) for (const key of gasSources.get(marketOf(c)) ?? []) read.add(key);
  });
  const badUnits = unitIssues(input.curves, (i) => moved[i]! || read.has(input.curves[i]!.curveKey));
  if (badUnits.length > 0) throw new EngineValidationError(badUnits);
  const hNpvBp = new Float64Array(H);
  for (let k = 0; k < H; k++) hNpvBp[k] = (-1e-4 * (k + 1)) / (12 + rate);

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

  const run: RunTables = { plans: plansD, canon, h0, H, hYm, hOnShare, hDF, hNpvBp, gas };
  return { parameters: P, run, curves: plans, total, maxT, labels, qLabels, yLabels };
}

/** Runs the engine to the end and returns every batch (tests, the bench; the worker streams: runScenarioStream). */
export function runScenario(input: EngineInput, opts: RunOptions = {}): EngineResult {
  const batches: OutputBatch[] = [];
  const stream = runScenarioStream(input, opts);
  for (;;) {
    const next = stream.next();
    if (next.done) return { batches, ...next.value };
    batches.push(next.value);
  }
}

/**
 * The engine as a stream: yields each batch once it is full (after the curve that filled it) and
 * returns the run's summary. Only the batch being filled and the batches not yet taken are held,
 * so memory does not grow with the run. `versionHash` is known before the first batch.
 */
export function* runScenarioStream(input: EngineInput, opts: RunOptions = {}): Generator<OutputBatch, EngineSummary> {
  const { parameters: P, run, curves: plans, total, maxT, labels, qLabels, yLabels } = planRun(input);
  const batchRows = Math.max(1, Math.floor(opts.batchRows ?? DEFAULT_BATCH_ROWS));
  const { h0, H, hYm, hOnShare, hDF } = run;
  const drivers = input.drivers;
  const nPaths = P.mc_paths;
  const attrKeys = drivers.map((d, i) => `"${d.driver_type}:${i}":`);

  const writer = new BatchWriter(batchRows, total, attrKeys, opts.attributionText === true);
  const versionHash = computeVersionHash(input, P);
  opts.onVersionHash?.(versionHash, total);

  // ---- scratch (reused across curves)
  const ws = new Workspace(maxT, drivers.length);
  const bands = new RunBands(input.curves, input.calibration, { nPaths, qLo: P.band_quantiles[0], qHi: P.band_quantiles[1], seed: P.seed, hYm });
  const cb = new CurveBands(maxT, nPaths);

  for (let ci = 0; ci < plans.length; ci++) {
    if (opts.signal?.aborted) throw abortError();
    const plan = plans[ci]!;
    if (plan.T > 0) {
      runCurve(plan, ws, run, {
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
    yield* writer.take(ci === plans.length - 1);
  }
  return { versionHash, rows: total, bandStats: bands.stats() };
}

class Workspace {
  vals: Float64Array; // NM × T, in METRICS order
  weight: Float64Array; // hours (aggregation weight)
  npvCoef: Float64Array; // DF × hours (power) or DF × days (fuels)
  contrib: Float64Array; // nd × T: each driver's part of uplift (curve unit)
  recContrib: Float64Array; // nd × T: each driver's part of rec_cost
  part: Float64Array; // per-driver aggregate scratch
  month: MonthEval;
  /** Per-metric band scratch: NM × T lower and upper values of the monthly metrics, NM of a period's. */
  bLo: Float64Array;
  bHi: Float64Array;
  readonly pLo = new Float64Array(NM);
  readonly pHi = new Float64Array(NM);
  constructor(maxT: number, nd: number) {
    this.vals = new Float64Array(NM * maxT);
    this.weight = new Float64Array(maxT);
    this.npvCoef = new Float64Array(maxT);
    this.contrib = new Float64Array(Math.max(1, nd * maxT));
    this.recContrib = new Float64Array(Math.max(1, nd * maxT));
    this.bLo = new Float64Array(NM * maxT);
    this.bHi = new Float64Array(NM * maxT);
    this.part = new Float64Array(Math.max(1, nd));
    this.month = new MonthEval(nd);
  }
}

/** Per-run tables the central estimate reads (built once in runScenario). */
export interface RunTables {
  plans: DriverPlan[];
  /** driver indices in canonical order */
  canon: number[];
  h0: number;
  H: number;
  hYm: Int32Array;
  hOnShare: Float64Array;
  hDF: Float64Array;
  /** d(DF)/d(bp) / DF = −1e-4·(k+1)/(12 + r) */
  hNpvBp: Float64Array;
  /** gas price burnt per market, canonical USD/MMBtu */
  gas: Map<MarketKey, Float64Array>;
}

interface RunCtx {
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

/** Whether every number of the last attrJson was finite (checked on the numbers, not on the text). */
let attrFinite = true;

function attrJson(keys: string[], idx: Int32Array, n: number, vals: Float64Array): string {
  let s = "{";
  let finite = true;
  for (let j = 0; j < n; j++) {
    const v = vals[j]!;
    if (!Number.isFinite(v)) finite = false;
    if (j > 0) s += ",";
    s += keys[idx[j]!]! + (v === 0 ? "0" : `${v}`); // −0 prints as 0
  }
  attrFinite = finite;
  return `${s}}`;
}

/** A curve prepared for evaluateMonth: its drivers, block stacks and calibration inputs. */
export interface CurveEval {
  plan: CurvePlan;
  isPower: boolean;
  market: MarketKey;
  /** curve unit → canonical unit factor */
  unitF: number;
  /** blocks evaluated: [ON] , [OFF] or [ON, OFF] for ATC */
  blocks: BlockStack[];
  /** applicable drivers, canonical order: index into the run's drivers, group, policy flag, zero-cost renewable flag */
  dIdx: Int32Array;
  group: Int32Array;
  policy: Uint8Array;
  renewable: Uint8Array;
  nd: number;
  /** scaled stack input of driver j, block bi, month t at xin[(j·nb + bi)·T + t] */
  xin: Float64Array;
  /** gas price burnt by the curve's market per valued month (canonical) */
  g0: Float64Array;
  /** DF_k × block hours (power) or × days (fuels), per valued month */
  npvCoef: Float64Array;
  /** certificate prices of the market, USD/MWh */
  recRps: number;
  recCes: number;
}

const FUEL_GROUPS = (1 << G_GAS) | (1 << G_COAL) | (1 << G_OIL) | (1 << G_CO2);
const GROUP_SLOT = [IN_GAS, IN_COAL, IN_OIL, IN_CO2, IN_TAX, IN_RPS, IN_CES, IN_LOAD, IN_K, IN_ZR];

/** Prepares curve `plan` for evaluateMonth (pure; allocates its own tables). */
export function prepareCurve(run: RunTables, plan: CurvePlan): CurveEval {
  const c = plan.curve;
  const T = plan.T;
  const isPower = c.product === "power";
  const market = marketOf(c);
  const ms = MARKET_STACK[market];
  const code = isPower ? blockCode(c.block) : ATC;
  const bcodes: (0 | 1)[] = !isPower ? [] : code === ON_PEAK ? [0] : code === OFF_PEAK ? [1] : [0, 1];
  const blocks = bcodes.map((b) => blockStack(ms, b));
  const nb = Math.max(1, blocks.length);
  const idx: number[] = [];
  for (const i of run.canon) if (planApplies(run.plans[i]!, c)) idx.push(i);
  const nd = idx.length;
  const dIdx = Int32Array.from(idx);
  const group = new Int32Array(nd);
  const policy = new Uint8Array(nd);
  const renewable = new Uint8Array(nd);
  const xin = new Float64Array(Math.max(1, nd * nb * T));
  for (let j = 0; j < nd; j++) {
    const p = run.plans[idx[j]!]!;
    group[j] = p.group;
    policy[j] = p.policy ? 1 : 0;
    renewable[j] = p.fleet?.kind === "energy" && p.fleet.renewable ? 1 : 0;
    for (let bi = 0; bi < nb; bi++) {
      const scale = isPower ? blockScale(p, market, bcodes[bi]!) : 1;
      const off = (j * nb + bi) * T;
      for (let t = 0; t < T; t++) xin[off + t] = p.input[plan.a + t]! * scale;
    }
  }
  const g0 = new Float64Array(T);
  const gm = run.gas.get(market)!;
  for (let t = 0; t < T; t++) g0[t] = gm[plan.a + t]!;
  const npvCoef = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const ym = run.hYm[plan.a + t]!;
    npvCoef[t] = run.hDF[plan.a + t]! * (isPower ? hoursInBlock(ym, code) : daysInMonth(ym));
  }
  return {
    plan,
    isPower,
    market,
    unitF: unitFactor(c.product, c.unit) ?? 1,
    blocks,
    dIdx,
    group,
    policy,
    renewable,
    nd,
    xin,
    g0,
    npvCoef,
    recRps: ms.recRps,
    recCes: ms.recCes,
  };
}

/** a[0..n) = 0. A loop: TypedArray fill is a native call, and these arrays have a handful of entries, cleared millions of times a run. */
function zero(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) a[i] = 0;
}

/** Scratch and results of evaluateMonth. */
export class MonthEval {
  /** metric values in METRICS order (NPV-type metrics need run.hDF: see evaluateMonth) */
  readonly values = new Float64Array(NM);
  /** per applicable driver (CurveEval order): part of uplift and of rec_cost */
  upParts: Float64Array;
  recParts: Float64Array;
  readonly inp = new Float64Array(N_IN);
  readonly v = new Float64Array(1 << N_GROUPS);
  readonly phi = new Float64Array(N_GROUPS);
  readonly act = new Int32Array(N_GROUPS);
  readonly gsum = new Float64Array(N_GROUPS);
  readonly out2 = new Float64Array(2);
  share: Float64Array;
  shareIdx: Int32Array;
  air: Float64Array;
  constructor(nd: number) {
    this.upParts = new Float64Array(Math.max(1, nd));
    this.recParts = new Float64Array(Math.max(1, nd));
    this.share = new Float64Array(Math.max(1, nd));
    this.shareIdx = new Int32Array(Math.max(1, nd));
    this.air = new Float64Array(Math.max(1, nd));
  }
  ensure(nd: number): void {
    if (this.upParts.length >= nd) return;
    this.upParts = new Float64Array(nd);
    this.recParts = new Float64Array(nd);
    this.share = new Float64Array(nd);
    this.shareIdx = new Int32Array(nd);
    this.air = new Float64Array(nd);
  }
}

/**
 * Every central metric of curve `ce` in its valued month t (horizon month k = a + t), given shock
 * multipliers: fuelMult scales every fuel price (the fuel curves' baselines and their drivers'
 * changes; for a fuel curve its own baseline), powerMult the baseline power price. With both = 1 it
 * is the central estimate; the stack is recalibrated at the shocked point (HR* = P0·pm / (G0·fm)), so
 * the shocked baseline is reproduced exactly. Pure: reads ce and run, writes only `out`.
 */
export function evaluateMonth(run: RunTables, ce: CurveEval, t: number, fuelMult: number, powerMult: number, out: MonthEval): void {
  out.ensure(ce.nd);
  zero(out.upParts, ce.nd);
  zero(out.recParts, ce.nd);
  zero(out.values, NM);
  if (ce.isPower) evaluatePowerMonth(run, ce, t, fuelMult, powerMult, out);
  else evaluateFuelMonth(run, ce, t, fuelMult, out);
}

/** A fuel curve moves by its own fuel_curve drivers only: ΔF = |F|·bp/10000, additive. */
function evaluateFuelMonth(run: RunTables, ce: CurveEval, t: number, fuelMult: number, out: MonthEval): void {
  const { plan, nd } = ce;
  const c = plan.curve;
  const up = out.upParts;
  const vals = out.values;
  const npvCoef = ce.npvCoef[t]!;
  const base = c.mid[plan.i0 + t]! * fuelMult;
  let u = 0;
  for (let j = 0; j < nd; j++) {
    const d = run.plans[ce.dIdx[j]!]!.driver;
    const s = d.driver_type === "fuel_curve" ? d.basis_points_adjustment / 10000 : 0;
    up[j] = Math.abs(base) * s;
    u += up[j]!;
  }
  vals[M_MID] = base + u;
  vals[M_BASE] = base;
  vals[M_UP] = u;
  vals[M_NPV] = npvCoef * u;
  vals[M_NPVBP] = run.hNpvBp[plan.a + t]! * npvCoef * u + 0; // + 0: no −0
  vals[M_GAS] = c.product === "natural_gas" ? 1 / ce.unitF : 0;
}

/**
 * A power curve: per block, the stack game of the driver groups active this month (Shapley values
 * of the price uplift), each group's value split among its drivers; then certificate costs.
 */
function evaluatePowerMonth(run: RunTables, ce: CurveEval, t: number, fuelMult: number, powerMult: number, out: MonthEval): void {
  const { plan, nd } = ce;
  const c = plan.curve;
  const k = plan.a + t;
  const up = out.upParts;
  const vals = out.values;
  const npvCoef = ce.npvCoef[t]!;
  const baseCurve = c.mid[plan.i0 + t]! * powerMult;
  const P0 = baseCurve * ce.unitF;
  const G0 = ce.g0[t]! * fuelMult;
  const [hrLo, hrHi] = IMPLIED_HEAT_RATE_BOUNDS;
  const hr = G0 > MIN_GAS_PRICE ? Math.min(hrHi, Math.max(hrLo, P0 / G0)) : DEFAULT_HEAT_RATE;
  const nb = ce.blocks.length;
  const w0 = nb === 2 ? run.hOnShare[k]! : 1;
  const { inp, v, phi, act, out2 } = out;
  let uplift = 0;
  let dPdG = 0;
  let tRps = 0;
  let tCes = 0;
  for (let bi = 0; bi < nb; bi++) {
    const bs = ce.blocks[bi]!;
    const wb = bi === 0 ? w0 : 1 - w0;
    aggregateBlockInputs(ce, t, bi, fuelMult, out);
    if (bi === 0) {
      tRps = inp[IN_RPS]!;
      tCes = inp[IN_CES]!;
    }
    // players: groups with a non-zero input this month
    let ng = 0;
    for (let g = 0; g < N_GROUPS; g++) if (inp[GROUP_SLOT[g]!] !== 0 || (g === G_ENERGY && inp[IN_ZC] !== 0)) act[ng++] = g;
    const full = (1 << ng) - 1;
    v[0] = 0;
    for (let mask = 1; mask <= full; mask++) {
      let inMask = 0;
      for (let i = 0; i < ng; i++) if ((mask >> i) & 1) inMask |= GROUP_INPUTS[act[i]!]!;
      stackPrice(bs, P0, G0, hr, inp, inMask, out2);
      v[mask] = out2[0]! - P0;
      if (mask === full) dPdG += wb * out2[1]!;
    }
    if (ng === 0) dPdG += wb * hr;
    uplift += wb * v[full]!;
    if (ng === 0) continue;
    shapley(v, ng, phi);
    splitGroupValues(ce, t, bi, wb, ng, fuelMult, out);
  }
  // certificate cost of load: price × required share, the strictest requirement of each kind binding
  let recCost = 0;
  if (tRps > 0) recCost += recParts(ce, t, G_RPS, tRps, ce.recRps, out);
  if (tCes > 0) recCost += recParts(ce, t, G_CES, tCes, ce.recCes, out);
  const inv = 1 / ce.unitF;
  let pol = 0;
  for (let j = 0; j < nd; j++) {
    up[j] = up[j]! * inv;
    if (ce.policy[j]) pol += up[j]!;
  }
  const u = uplift * inv;
  vals[M_MID] = baseCurve + u;
  vals[M_BASE] = baseCurve;
  vals[M_UP] = u;
  vals[M_POL] = pol;
  vals[M_NPV] = npvCoef * u;
  vals[M_REC] = recCost * inv;
  vals[M_NPVBP] = run.hNpvBp[k]! * npvCoef * u + 0;
  vals[M_GAS] = dPdG * inv;
}

/** Block bi's inputs of each driver group into out.inp (by slot) and out.gsum (by group): canonical order; requirements take the maximum. */
function aggregateBlockInputs(ce: CurveEval, t: number, bi: number, fuelMult: number, out: MonthEval): void {
  const { nd, group, xin } = ce;
  const T = ce.plan.T;
  const nb = ce.blocks.length;
  const { inp, gsum } = out;
  zero(inp, N_IN);
  zero(gsum, N_GROUPS);
  for (let j = 0; j < nd; j++) {
    const g = group[j]!;
    if (g < 0) continue;
    let x = xin[(j * nb + bi) * T + t]!;
    if ((FUEL_GROUPS >> g) & 1) x *= fuelMult;
    if (g === G_RPS || g === G_CES) {
      const slot = GROUP_SLOT[g]!;
      if (x > inp[slot]!) inp[slot] = x;
      gsum[g] = inp[slot]!;
    } else if (g === G_ENERGY) {
      if (ce.renewable[j]) inp[IN_ZR] = inp[IN_ZR]! + x;
      else inp[IN_ZC] = inp[IN_ZC]! + x;
      gsum[g] += x;
    } else {
      const slot = GROUP_SLOT[g]!;
      inp[slot] = inp[slot]! + x;
      gsum[g] += x;
    }
  }
}

/**
 * Adds block bi's share (weight wb) of each active group's Shapley value (out.phi, groups out.act)
 * to its drivers' parts in out.upParts: additive inputs in proportion to each driver's input;
 * requirements by the Shapley value of the maximum (airport) game.
 */
function splitGroupValues(ce: CurveEval, t: number, bi: number, wb: number, ng: number, fuelMult: number, out: MonthEval): void {
  const { nd, group, xin } = ce;
  const T = ce.plan.T;
  const nb = ce.blocks.length;
  const { phi, act, gsum, share, shareIdx, air, upParts: up } = out;
  for (let i = 0; i < ng; i++) {
    const g = act[i]!;
    const val = wb * phi[i]!;
    if (val === 0) continue;
    if (g === G_RPS || g === G_CES) {
      let n = 0;
      for (let j = 0; j < nd; j++) {
        if (group[j] !== g) continue;
        share[j] = xin[(j * nb + bi) * T + t]!;
        shareIdx[n++] = j;
      }
      airportShapley(share, shareIdx, n, air);
      const tot = gsum[g]!;
      for (let q = 0; q < n; q++) {
        const j = shareIdx[q]!;
        up[j] += (val * air[j]!) / tot;
      }
    } else {
      const tot = gsum[g]!;
      if (tot === 0) continue;
      for (let j = 0; j < nd; j++) {
        if (group[j] !== g) continue;
        let x = xin[(j * nb + bi) * T + t]!;
        if ((FUEL_GROUPS >> g) & 1) x *= fuelMult;
        up[j] += (val * x) / tot;
      }
    }
  }
}

/** rec_cost of one kind of requirement (price × max T) and its airport-rule parts, written to out.recParts. */
function recParts(ce: CurveEval, t: number, g: number, tmax: number, price: number, out: MonthEval): number {
  const { share, shareIdx, air, recParts: rec } = out;
  const nb = ce.blocks.length;
  const T = ce.plan.T;
  let n = 0;
  for (let j = 0; j < ce.nd; j++) {
    if (ce.group[j] !== g) continue;
    share[j] = ce.xin[j * nb * T + t]!;
    shareIdx[n++] = j;
  }
  airportShapley(share, shareIdx, n, air);
  for (let q = 0; q < n; q++) rec[shareIdx[q]!] = (price * air[shareIdx[q]!]!) / ce.unitF;
  return price * tmax;
}

/** What the phases of one curve share: its plan and tables, the run, and the drivers each attributed metric names. */
interface CurveRun {
  plan: CurvePlan;
  ws: Workspace;
  run: RunTables;
  cx: RunCtx;
  ce: CurveEval;
  isPower: boolean;
  /** The curve's policy drivers (np of them) and its requirement (RPS/CES) drivers (nr), as run driver indexes. */
  pIdx: Int32Array;
  np: number;
  rIdx: Int32Array;
  nr: number;
}

function runCurve(plan: CurvePlan, ws: Workspace, run: RunTables, cx: RunCtx): void {
  const ce = prepareCurve(run, plan);
  const nd = ce.nd;
  const pIdx = new Int32Array(nd);
  let np = 0;
  for (let j = 0; j < nd; j++) if (ce.policy[j]) pIdx[np++] = ce.dIdx[j]!;
  const rIdx = new Int32Array(nd);
  let nr = 0;
  for (let j = 0; j < nd; j++) if (ce.group[j] === G_RPS || ce.group[j] === G_CES) rIdx[nr++] = ce.dIdx[j]!;
  ws.month.ensure(nd);
  const cr: CurveRun = { plan, ws, run, cx, ce, isPower: plan.curve.product === "power", pIdx, np, rIdx, nr };
  centralValues(cr);
  monthlyBands(cr);
  emitMonthlyRows(cr);
  emitPeriodRows(cr);
}

/** Weights and central values of every month (evaluateMonth at fuelMult = powerMult = 1) with each driver's parts. */
function centralValues({ plan, ws, run, cx, ce, isPower }: CurveRun): void {
  const { a, T } = plan;
  const code: BlockCode = isPower ? blockCode(plan.curve.block) : ATC;
  const { vals, weight, npvCoef, contrib, recContrib } = ws;
  const nd = ce.nd;
  const me = ws.month;
  for (let t = 0; t < T; t++) {
    const k = a + t;
    const ym = cx.hYm[k]!;
    // power: the block's clock hours (holidays, DST); fuel curves are daily products: weight by days
    weight[t] = isPower ? hoursInBlock(ym, code) : daysInMonth(ym);
    npvCoef[t] = cx.hDF[k]! * (isPower ? weight[t]! : daysInMonth(ym));
    evaluateMonth(run, ce, t, 1, 1, me);
    for (let mi = 0; mi < NM; mi++) vals[mi * T + t] = me.values[mi]!;
    for (let j = 0; j < nd; j++) {
      contrib[j * T + t] = me.upParts[j]!;
      recContrib[j * T + t] = me.recParts[j]!;
    }
  }
}

/**
 * Bands (src/engine/uncertainty.ts): closed-form monthly quantiles, Monte Carlo periods (into
 * cx.cb); then every metric of a month is evaluated at the lower and upper quantile point
 * (docs/model.md §7.6): the price level (power: the curve's multiplier m_q; fuel curves: their
 * own) with the gas price moved consistently (fuelMult_q), so each metric's band reflects how the
 * drivers act at that price.
 */
function monthlyBands({ plan, ws, run, cx, ce, isPower }: CurveRun): void {
  const { curve, a, T } = plan;
  const { vals, weight, bLo, bHi } = ws;
  const me = ws.month;
  const cb = cx.cb;
  cx.bands.curve(curve, { a, T, hFirst: cx.h0 + a, weight, mid: vals.subarray(M_MID * T, M_MID * T + T), qLabels: cx.qLabels, yLabels: cx.yLabels }, cb);
  const { fuelLo, fuelHi, mLo, mHi } = cb;
  for (let t = 0; t < T; t++) {
    evaluateMonth(run, ce, t, fuelLo[t]!, isPower ? mLo[t]! : 1, me);
    for (let mi = 0; mi < NM; mi++) bLo[mi * T + t] = me.values[mi]!;
    evaluateMonth(run, ce, t, fuelHi[t]!, isPower ? mHi[t]! : 1, me);
    for (let mi = 0; mi < NM; mi++) {
      const i = mi * T + t;
      const v = vals[i]!;
      const x = bLo[i]!;
      const y = me.values[mi]!;
      bLo[i] = Math.min(v, x, y);
      bHi[i] = Math.max(v, x, y);
    }
  }
}

/** The drivers that metric mi is attributed to. */
const attrIdx = (cr: CurveRun, mi: number) => (mi === M_POL ? cr.pIdx : mi === M_REC ? cr.rIdx : cr.ce.dIdx);
const attrN = (cr: CurveRun, mi: number) => (mi === M_POL ? cr.np : mi === M_REC ? cr.nr : cr.ce.nd);
/** Whether the curve's driver j takes part in metric mi's attribution. */
const attrKeep = (ce: CurveEval, mi: number, j: number) => (mi === M_POL ? ce.policy[j] === 1 : mi === M_REC ? ce.group[j] === G_RPS || ce.group[j] === G_CES : true);
/** The monthly coefficient of a per-driver part of metric mi in month u. */
const attrCoef = (cr: CurveRun, mi: number, u: number) => (mi === M_NPV ? cr.ws.npvCoef[u]! : mi === M_NPVBP ? cr.ws.npvCoef[u]! * cr.run.hNpvBp[cr.plan.a + u]! : 1);

/** One row per month and metric, with its band and (for attributed metrics) its parts per driver. */
function emitMonthlyRows(cr: CurveRun): void {
  const { plan, ws, cx, ce } = cr;
  const { a, T } = plan;
  const { vals, contrib, recContrib, bLo, bHi, part } = ws;
  const key = plan.curve.curveKey;
  for (let t = 0; t < T; t++) {
    const k = a + t;
    const ym = cx.hYm[k]!;
    const lab = cx.labels[k]!;
    for (let mi = 0; mi < NM; mi++) {
      const v = vals[mi * T + t]!;
      if (ATTRIBUTED[mi]) {
        const src = mi === M_REC ? recContrib : contrib;
        const sc = attrCoef(cr, mi, t);
        let q = 0;
        for (let j = 0; j < ce.nd; j++) if (attrKeep(ce, mi, j)) part[q++] = sc * src[j * T + t]!;
      }
      const idx = ATTRIBUTED[mi] ? attrIdx(cr, mi) : null;
      cx.writer.push(key, "MONTHLY", ym, lab, METRICS[mi]!, v, bLo[mi * T + t]!, bHi[mi * T + t]!, idx, attrN(cr, mi), part);
    }
  }
}

/** Rows of the whole quarters, then the whole calendar years, in the horizon; bands from each period's quantile points. */
function emitPeriodRows(cr: CurveRun): void {
  const { plan, ws, run, cx, ce, isPower } = cr;
  const { a, T } = plan;
  const { vals, weight, contrib, recContrib, pLo, pHi, part } = ws;
  const { aggLo, aggHi, aggFuelLo, aggFuelHi } = cx.cb;
  const me = ws.month;
  const key = plan.curve.curveKey;
  /** Every metric of the period [t, t + len) with each month evaluated at (fm, pm), aggregated like the values. */
  const periodAt = (t: number, len: number, W: number, fm: number, pm: number, out: Float64Array) => {
    out.fill(0);
    for (let u = t; u < t + len; u++) {
      evaluateMonth(run, ce, u, fm, isPower ? pm : 1, me);
      for (let mi = 0; mi < NM; mi++) out[mi] = out[mi]! + (SUMMED[mi] ? me.values[mi]! : weight[u]! * me.values[mi]!);
    }
    for (let mi = 0; mi < NM; mi++) if (!SUMMED[mi]) out[mi] = out[mi]! / W;
  };
  const hFirst = cx.h0 + a; // absolute month index of t = 0
  const hLast = hFirst + T - 1;
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
      const pmLo = isPower ? aggLo[slot]! : 1;
      const pmHi = isPower ? aggHi[slot]! : 1;
      periodAt(t, len, W, aggFuelLo[slot]!, pmLo, pLo);
      periodAt(t, len, W, aggFuelHi[slot]!, pmHi, pHi);
      for (let mi = 0; mi < NM; mi++) {
        const summed = SUMMED[mi];
        let v = 0;
        for (let u = t; u < t + len; u++) v += summed ? vals[mi * T + u]! : weight[u]! * vals[mi * T + u]!;
        if (!summed) v /= W;
        let q = 0;
        if (ATTRIBUTED[mi]) {
          const src = mi === M_REC ? recContrib : contrib;
          for (let j = 0; j < ce.nd; j++) {
            if (!attrKeep(ce, mi, j)) continue;
            let c = 0;
            const off = j * T;
            if (summed) for (let u = t; u < t + len; u++) c += attrCoef(cr, mi, u) * src[off + u]!;
            else {
              for (let u = t; u < t + len; u++) c += weight[u]! * src[off + u]!;
              c /= W;
            }
            part[q++] = c;
          }
        }
        const idx = ATTRIBUTED[mi] ? attrIdx(cr, mi) : null;
        cx.writer.push(key, tenor, cx.hYm[k]!, lab, METRICS[mi]!, v, Math.min(v, pLo[mi]!, pHi[mi]!), Math.max(v, pLo[mi]!, pHi[mi]!), idx, q, part);
      }
      slot++;
    }
  }
}
