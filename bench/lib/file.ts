/** The --json file: every suite's figures, ratios and distributions, with the machine they ran on. */
import type { MachineFacts } from "./machine";
import type { SuiteResult } from "./result";

export type BenchFile = {
  format: "aurum-bench/1";
  started_at: string;
  finished_at: string;
  argv: string[];
  quick: boolean;
  repeats: number;
  /** AURUM_BENCH_SLOWDOWN in effect (0 normally). */
  slowdown: number;
  machine: MachineFacts;
  suites: SuiteResult[];
};

export async function readBenchFile(path: string): Promise<BenchFile> {
  const f = (await Bun.file(path).json()) as BenchFile;
  if (f.format !== "aurum-bench/1" || !Array.isArray(f.suites)) throw new Error(`${path} is not an aurum bench result (format aurum-bench/1)`);
  return f;
}

/** The knob applied to a saved result (--against with AURUM_BENCH_SLOWDOWN): each ratio made worse by the fraction, as a run would. */
export function slowed(f: BenchFile, s: number): BenchFile {
  if (!s) return f;
  const worse = (x: number, better: string) => (better === "higher" ? x / (1 + s) : x * (1 + s));
  return {
    ...f,
    slowdown: s,
    suites: f.suites.map((suite) => ({
      ...suite,
      ratios: suite.ratios.map((r) => ({
        ...r,
        median: worse(r.median, r.better),
        min: worse(r.min, r.better),
        max: worse(r.max, r.better),
        samples: r.samples.map((x) => worse(x, r.better)),
      })),
    })),
  };
}
