/**
 * What a suite produces: figures (samples of one measure over rounds), ratios (the project's
 * figure over a baseline measured in the same rounds), latency distributions for the report, and
 * checks. The synthetic slowdown knob (AURUM_BENCH_SLOWDOWN, a fraction) is applied here, once:
 * every sample of a *project* figure is made worse by that fraction (times and sizes × (1 + s),
 * rates ÷ (1 + s)) before ratios are formed. It adds no real latency; it proves that --compare
 * catches a regression of that size.
 */
import { latency, summarize } from "./stats";

export type Side = "project" | "baseline" | "info";
export type Better = "higher" | "lower";

export type Figure = { name: string; unit: string; side: Side; better: Better; samples: number[]; median: number; min: number; max: number };
export type Ratio = {
  name: string;
  project: string;
  baseline: string;
  better: Better;
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** The goal in words and whether this run meets it (issues 6 and 7, docs/performance.md). */
  goal?: string;
  meets?: boolean;
};
export type Distribution = { group: string; name: string; unit: string; p50: number; p95: number; p99: number; max: number; n: number; samples: number[] };
export type Check = { name: string; value: string; ok: boolean };
export type SuiteResult = {
  suite: string;
  skipped?: string;
  notes: string[];
  figures: Figure[];
  ratios: Ratio[];
  distributions: Distribution[];
  checks: Check[];
  seconds?: number;
};

export const slowdownFromEnv = (): number => {
  const raw = process.env.AURUM_BENCH_SLOWDOWN;
  const s = raw ? Number(raw) : 0;
  if (!Number.isFinite(s) || s < 0) throw new Error(`AURUM_BENCH_SLOWDOWN must be a fraction ≥ 0, got '${raw}'`);
  return s;
};

const rateUnit = (unit: string) => unit.endsWith("/s") || unit === "×";

export class Recorder {
  readonly result: SuiteResult;
  constructor(
    suite: string,
    private readonly slowdown = slowdownFromEnv(),
  ) {
    this.result = { suite, notes: [], figures: [], ratios: [], distributions: [], checks: [] };
  }

  /** Records a figure; `better` defaults to higher for rates (".../s", "×") and lower otherwise. */
  figure(name: string, unit: string, samples: number[], side: Side = "info", better?: Better): Figure {
    const b: Better = better ?? (rateUnit(unit) ? "higher" : "lower");
    const s = side === "project" && this.slowdown ? samples.map((x) => (b === "higher" ? x / (1 + this.slowdown) : x * (1 + this.slowdown))) : samples;
    const f: Figure = { name, unit, side, better: b, samples: s, ...summarize(s) };
    this.result.figures.push(f);
    return f;
  }

  /**
   * A ratio per round: project.samples[i] / baseline[i] (a figure, or samples such as a
   * composite baseline). Better is the project figure's direction.
   */
  ratio(name: string, project: Figure, baseline: Figure | { name: string; samples: number[] }, goal?: { text: string; meets: (value: number) => boolean }): Ratio {
    const n = Math.min(project.samples.length, baseline.samples.length);
    const samples = Array.from({ length: n }, (_, i) => (project.samples[i] as number) / (baseline.samples[i] as number));
    const s = summarize(samples);
    const r: Ratio = { name, project: project.name, baseline: baseline.name, better: project.better, samples, median: s.median, min: s.min, max: s.max };
    if (goal) {
      r.goal = goal.text;
      r.meets = goal.meets(s.median);
    }
    this.result.ratios.push(r);
    return r;
  }

  /** Latency samples (ms) of one series, for percentiles and the report's distribution charts. */
  distribution(group: string, name: string, samplesMs: number[], side: Side = "info"): Distribution {
    const s = side === "project" && this.slowdown ? samplesMs.map((x) => x * (1 + this.slowdown)) : samplesMs;
    const d: Distribution = { group, name, unit: "ms", ...latency(s), samples: thin(s, 2000) };
    this.result.distributions.push(d);
    return d;
  }

  check(name: string, value: string, ok: boolean) {
    this.result.checks.push({ name, value, ok });
  }

  note(text: string) {
    this.result.notes.push(text);
  }

  skip(reason: string): SuiteResult {
    this.result.skipped = reason;
    return this.result;
  }
}

/** At most `max` samples kept (evenly over the sorted order), so the JSON stays small but the distribution's shape stays. */
function thin(xs: number[], max: number): number[] {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length <= max) return s.map((x) => Math.round(x * 1000) / 1000);
  return Array.from({ length: max }, (_, i) => Math.round((s[Math.floor((i * (s.length - 1)) / (max - 1))] as number) * 1000) / 1000);
}

/** Shared context every suite gets from main.ts. */
export type SuiteContext = {
  quick: boolean;
  /** Rounds per figure (≥ 5 unless --quick). */
  repeats: number;
  /** Flags as parsed (strings), for the suites' own options. */
  flags: Record<string, string | boolean | undefined>;
  log: (line: string) => void;
};
