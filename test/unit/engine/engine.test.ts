import { describe, expect, test } from "bun:test";
import { type BaselineCurve, DEFAULT_PARAMETERS, daysInMonth, type EngineInput, fnv1a64Hex, hoursInMonth, runScenario, weekdaysInMonth } from "../../../src/engine/index";
import { quantilePair, quantilePairGuided } from "../../../src/engine/quantile";
import { Xoshiro128 } from "../../../src/engine/rng";
import { index, monthsFrom, mulberry32, rowsOf, WORKED_EXAMPLE } from "./helpers";

describe("calendar hours (NERC holidays, DST; the hour-by-hour walk is in calendar.test.ts)", () => {
  test.each([
    [202701, "ON_PEAK", 320], // 1 Jan 2027 (Friday) is a NERC holiday
    [202701, "OFF_PEAK", 424],
    [202701, "ATC", 744],
    [202702, "ON_PEAK", 320],
    [202702, "atc", 672],
    [202802, "ATC", 696],
    [202802, "ON_PEAK", 336],
    [202703, "ON_PEAK", 368],
    [202403, "OFF_PEAK", 743 - 21 * 16], // DST starts 10 Mar 2024: 743 clock hours
    [210002, "ATC", 672],
    [200002, "ATC", 696],
    [202701, "7x24", 744],
  ])("hoursInMonth(%i, %s) = %i", (ym, block, h) => {
    expect(hoursInMonth(ym, block)).toBe(h);
  });

  test("weekday counts (holidays included) agree with Date for 50 years of months; ON + OFF = ATC", () => {
    for (let y = 2000; y < 2050; y++)
      for (let m = 1; m <= 12; m++) {
        let n = 0;
        for (let d = 1; d <= daysInMonth(y * 100 + m); d++) {
          const dow = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
          if (dow !== 0 && dow !== 6) n++;
        }
        expect(weekdaysInMonth(y * 100 + m)).toBe(n);
        expect(hoursInMonth(y * 100 + m, "ON_PEAK") + hoursInMonth(y * 100 + m, "OFF_PEAK")).toBe(hoursInMonth(y * 100 + m, "ATC"));
      }
  });
});

describe("primitives", () => {
  test("FNV-1a 64 test vectors", () => {
    expect(fnv1a64Hex("")).toBe("cbf29ce484222325");
    expect(fnv1a64Hex("a")).toBe("af63dc4c8601ec8c");
    expect(fnv1a64Hex("foobar")).toBe("85944171f73967e8");
  });

  test("xoshiro128** normals: reproducible, mean ≈ 0, variance ≈ 1, tails ≈ normal", () => {
    const a = new Xoshiro128(42, 0);
    const b = new Xoshiro128(42, 0);
    const n = 400_000;
    const z = new Float64Array(n);
    const z2 = new Float64Array(n);
    a.fillNormals(z, n);
    b.fillNormals(z2, n);
    expect(z).toEqual(z2);
    let s = 0;
    let s2 = 0;
    let tail = 0;
    for (const v of z) {
      s += v;
      s2 += v * v;
      if (Math.abs(v) > 1.959963985) tail++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.002);
  });

  test("guided quantiles equal plain type-7 quantiles exactly", () => {
    const rnd = mulberry32(7);
    const out1 = new Float64Array(2);
    const out2 = new Float64Array(2);
    for (let k = 0; k < 2000; k++) {
      const n = 1 + Math.floor(rnd() * 400);
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = k % 3 === 0 ? Math.floor(rnd() * 4) : Math.exp(rnd() * 2);
      const ql = rnd() * 0.5;
      const qh = 0.5 + rnd() * 0.5;
      const sorted = Float64Array.from(x).sort();
      const ref = (q: number) => {
        const h = (n - 1) * q;
        const j = Math.floor(h);
        return j + 1 < n ? sorted[j]! + (h - j) * (sorted[j + 1]! - sorted[j]!) : sorted[j]!;
      };
      quantilePair(Float64Array.from(x), n, ql, qh, out1);
      quantilePairGuided(x, n, ql, qh, rnd(), rnd() * 2, out2);
      expect(out1[0]).toBe(ref(ql));
      expect(Math.abs(out1[1]! - ref(qh))).toBeLessThanOrEqual(1e-12 * Math.abs(ref(qh)));
      expect(Array.from(out2)).toEqual(Array.from(out1));
    }
  });
});

describe("runScenario options and structure", () => {
  test("batches of at most batchRows rows, total = rows", () => {
    const r = runScenario(WORKED_EXAMPLE, { batchRows: 6 });
    expect(r.batches.length).toBe(11); // 64 rows: 2 curves × 4 periods × 8 metrics
    expect(r.batches.every((b) => b.length <= 6 && b.value.length === b.length)).toBe(true);
    expect(r.batches.reduce((n, b) => n + b.length, 0)).toBe(r.rows);
  });

  test("onProgress reports curves done / total", () => {
    const calls: [number, number][] = [];
    runScenario(WORKED_EXAMPLE, { onProgress: (d, t) => calls.push([d, t]) });
    expect(calls).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  test("abort between curves throws AbortError", () => {
    const signal = { aborted: false };
    let err: Error | undefined;
    try {
      runScenario(WORKED_EXAMPLE, { signal, onProgress: () => (signal.aborted = true) });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.name).toBe("AbortError");
  });

  test("months before the as-of month and beyond the horizon are not valued", () => {
    const curve: BaselineCurve = { ...WORKED_EXAMPLE.curves[0]!, months: monthsFrom(202610, 12), mid: new Float64Array(12).fill(50) };
    const r = rowsOf(runScenario({ ...WORKED_EXAMPLE, curves: [curve, WORKED_EXAMPLE.curves[1]!], parameters: { ...WORKED_EXAMPLE.parameters, horizon_months: 4 } }));
    const months = [...new Set(r.filter((x) => x.curveKey === "PJM_W_ON" && x.tenorType === "MONTHLY").map((x) => x.contractMonth))];
    expect(months).toEqual([202701, 202702, 202703, 202704]);
    expect(r.filter((x) => x.curveKey === "PJM_W_ON" && x.tenorType === "QUARTER").map((x) => x.tenorLabel)).toEqual(Array(8).fill("2027-Q1"));
  });

  test("an ATC curve moves by the hour-weighted average of the ON and OFF moves", () => {
    const mk = (block: string): BaselineCurve => ({
      curveKey: block,
      market: "PJM",
      location: "W",
      product: "power",
      block,
      unit: "USD/MWh",
      months: monthsFrom(202701, 24),
      mid: new Float64Array(24).fill(50),
    });
    const input: EngineInput = {
      ...WORKED_EXAMPLE,
      parameters: { ...DEFAULT_PARAMETERS, horizon_months: 24, mc_paths: 100 },
      drivers: [
        ...WORKED_EXAMPLE.drivers,
        { driver_type: "policy", policy_name: "RPS", start_year: 2027, target: 60, target_year: 2028 },
        { driver_type: "load_growth", annual_growth_pct: 3, start_year: 2027, end_year: 2028 },
        { driver_type: "fleet_change", fleet_id: "x", change_type: "retire", effective_date: "2027-05-20", capacity_mw: 3000, region: "PJM" },
      ],
      curves: [mk("ON_PEAK"), mk("OFF_PEAK"), mk("ATC"), WORKED_EXAMPLE.curves[1]!],
    };
    const m = index(rowsOf(runScenario(input)));
    for (let i = 0; i < 24; i++) {
      const ym = monthsFrom(202701, 24)[i]!;
      const lab = `${Math.floor(ym / 100)}-${String(ym % 100).padStart(2, "0")}`;
      const on = m.get(`ON_PEAK|MONTHLY|${lab}|uplift`)!.value;
      const off = m.get(`OFF_PEAK|MONTHLY|${lab}|uplift`)!.value;
      const atc = m.get(`ATC|MONTHLY|${lab}|uplift`)!.value;
      const hOn = hoursInMonth(ym, "ON_PEAK");
      const hOff = hoursInMonth(ym, "OFF_PEAK");
      expect(Math.abs(atc - (hOn * on + hOff * off) / (hOn + hOff))).toBeLessThan(1e-9);
    }
  });

  test("discount shock: a higher shock_bp lowers the absolute NPV of a positive uplift", () => {
    const npv = (bp: number) =>
      rowsOf(runScenario({ ...WORKED_EXAMPLE, parameters: { ...WORKED_EXAMPLE.parameters, shock_bp: bp } })).find((r) => r.metric === "NPV" && r.tenorType === "QUARTER")!.value;
    expect(npv(100)).toBeLessThan(npv(0));
    expect(npv(-100)).toBeGreaterThan(npv(0));
  });
});
