/**
 * What a failed run attempt shows its users: a classified `code`, a message a person can act on,
 * and whether another attempt could help. Raw driver text (a Postgres or Trino message, a stack)
 * is for the log only: it names tables, constraints and hosts, and means nothing to the caller.
 *
 * Classification goes by the step that failed (loading inputs, the engine, writing outputs) and
 * by the error's own `code` and `retryable` (AppError, the engine's refusals, the store adapters'
 * errors), not by matching driver messages or error names.
 */
import { AppError } from "../platform/errors";

/** The step of an attempt an error came from. */
export type RunStep = "input" | "engine" | "output";

export type RunFailure = {
  code: string;
  message: string;
  /** False for deterministic failures: the same inputs would fail the same way again. */
  retryable: boolean;
  /** True when `message` is not the error's own text, so the raw text must be logged. */
  redacted: boolean;
};

/** Codes engine errors carry themselves (e.g. NON_FINITE_OUTPUT): short upper-case words. */
const ENGINE_CODE = /^[A-Z][A-Z0-9_]{2,63}$/;
/** Engine codes recognised wherever they are raised (a finiteness check may run outside the thread). */
const DETERMINISTIC_CODES: ReadonlySet<string> = new Set(["INVALID_INPUT", "NON_FINITE_OUTPUT", "CURVE_SNAPSHOT_CHANGED"]);

const GENERIC: Record<RunStep, Omit<RunFailure, "redacted">> = {
  input: { code: "INPUT_UNAVAILABLE", message: "the run's inputs could not be read from the metadata database; the details are in the worker log", retryable: true },
  engine: { code: "INTERNAL", message: "the model engine failed unexpectedly; the details are in the worker log", retryable: true },
  output: { code: "OUTPUT_WRITE_FAILED", message: "the run's outputs could not be written to the output store; the details are in the worker log", retryable: true },
};

/** Classifies an error thrown by `step` of an attempt. Whether it is retried is the error's own `retryable` where it has one. */
export function classifyFailure(err: unknown, step: RunStep): RunFailure {
  if (err instanceof AppError) return { code: err.code, message: err.message, retryable: err.retryable, redacted: false };
  const own = ownRetryable(err);
  const code = engineCode(err, step);
  if (code !== undefined) return { code, message: (err as Error).message, retryable: own ?? false, redacted: false };
  const generic = GENERIC[step];
  const retryable = own ?? generic.retryable;
  return {
    ...generic,
    ...(retryable ? {} : { message: `${generic.message.split(";")[0]}; retrying would not help, the details are in the worker log` }),
    retryable,
    redacted: true,
  };
}

/**
 * An error's own retry verdict: its `retryable` flag, where it carries one. The engine's refusals
 * carry false; so do the adapters' errors that the same work would raise again (a TrinoError of
 * a user error; a Postgres data exception, SQLSTATE class 22, src/adapters/postgres.ts).
 */
function ownRetryable(err: unknown): boolean | undefined {
  const retryable = (err as { retryable?: unknown } | null)?.retryable;
  return typeof retryable === "boolean" ? retryable : undefined;
}

/**
 * The code of one of the engine's own refusals, shown with its message: a code known wherever it
 * is raised (the engine's validation, a non-finite value, a changed snapshot), or any engine-like
 * code raised by the engine step.
 */
function engineCode(err: unknown, step: RunStep): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return undefined;
  // Outside the engine step a code may be a driver's (ECONNREFUSED, CONNECTION_CLOSED): only known ones count.
  return DETERMINISTIC_CODES.has(code) || (step === "engine" && ENGINE_CODE.test(code)) ? code : undefined;
}

/** The raw text of an error, for the log. */
export function rawText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
