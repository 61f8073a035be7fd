/** Aurum scenario engine: pure, synchronous, deterministic for a seed. See docs/model.md. */
export {
  blockCode,
  clockHoursInMonth,
  daysInMonth,
  dstTransitions,
  hoursInMonth,
  isNercHoliday,
  monthIndex,
  type NercHoliday,
  nercHolidays,
  onPeakDaysInMonth,
  weekdaysInMonth,
  yyyymmOf,
} from "./calendar";
export { canonicalJson } from "./canonical-json";
export {
  type CurveEval,
  type CurvePlan,
  computeVersionHash,
  DEFAULT_BATCH_ROWS,
  driverApplies,
  evaluateMonth,
  METRICS,
  MonthEval,
  planRun,
  prepareCurve,
  type RunTables,
  runScenario,
  runScenarioStream,
} from "./engine";
export { assertFiniteRow, NON_FINITE_OUTPUT, NonFiniteOutputError } from "./finite";
export { Fnv1a64, fnv1a64Hex } from "./hash";
export * as modelParams from "./params";
export * from "./types";
export { EngineValidationError, normalizeParameters, validateDriversAgainstCurves, validateInput } from "./validate";
