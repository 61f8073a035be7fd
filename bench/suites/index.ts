/** The harness's suites, in the order `bun run bench` runs them. */
import type { SuiteContext, SuiteResult } from "../lib/result";
import { engineSuite } from "./engine";
import { exportSuite } from "./export";
import { httpSuite } from "./http";
import { querySuite } from "./query";
import { runsSuite } from "./runs";
import { singleflightSuite } from "./singleflight";

export const SUITES = {
  export: exportSuite,
  query: querySuite,
  singleflight: singleflightSuite,
  runs: runsSuite,
  engine: engineSuite,
  http: httpSuite,
} satisfies Record<string, (ctx: SuiteContext) => Promise<SuiteResult>>;
export type SuiteName = keyof typeof SUITES;
