/**
 * What a failed run attempt shows its users: a classified `code`, a message a person can act on,
 * and whether another attempt could help. Raw driver text (a Postgres or Trino message, a stack)
 * is for the log only: it names tables, constraints and hosts, and means nothing to the caller.
 *
 * Classification goes by the step that failed (loading inputs, the engine, writing outputs) and
 * by the error's own kind (AppError, engine validation), not by matching driver messages.
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
const DETERMINISTIC_CODES: ReadonlySet<string> = new Set(["INVALID_INPUT", "NON_FINITE_OUTPUT", "NON_FINITE_VALUE", "CURVE_SNAPSHOT_CHANGED"]);

const GENERIC: Record<RunStep, Omit<RunFailure, "redacted">> = {
  input: { code: "INPUT_UNAVAILABLE", message: "the run's inputs could not be read from the metadata database; the details are in the worker log", retryable: true },
  engine: { code: "INTERNAL", message: "the model engine failed unexpectedly; the details are in the worker log", retryable: true },
  output: { code: "OUTPUT_WRITE_FAILED", message: "the run's outputs could not be written to the output store; the details are in the worker log", retryable: true },
};

/** Classifies an error thrown by `step` of an attempt. */
export function classifyFailure(err: unknown, step: RunStep): RunFailure {
  if (err instanceof AppError) return { code: err.code, message: err.message, retryable: err.retryable, redacted: false };
  if (isEngineError(err, step)) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === "string" && ENGINE_CODE.test(code) ? code : "INVALID_INPUT", message: err.message, retryable: false, redacted: false };
  }
  const generic = GENERIC[step];
  const retryable = ownRetryable(err) ?? generic.retryable;
  return {
    ...generic,
    ...(retryable ? {} : { message: `${generic.message.split(";")[0]}; retrying would not help, the details are in the worker log` }),
    retryable,
    redacted: true,
  };
}

/**
 * An error's own retry verdict, where it has one: a `retryable` flag (TrinoError: user errors are
 * not retryable), or a Postgres data exception (SQLSTATE class 22: a value out of range or not
 * representable), which the same rows would raise again.
 */
function ownRetryable(err: unknown): boolean | undefined {
  const e = err as { retryable?: unknown; code?: unknown; name?: unknown } | null;
  if (typeof e?.retryable === "boolean") return e.retryable;
  if (e?.name === "PostgresError" && typeof e.code === "string" && e.code.startsWith("22")) return false;
  return undefined;
}

/**
 * The engine's own refusals: its validation error (by name, as it crosses the thread boundary),
 * or any error of the engine step that carries a code of its own. They are deterministic.
 */
function isEngineError(err: unknown, step: RunStep): err is Error {
  if (!(err instanceof Error)) return false;
  if (err.name === "EngineValidationError") return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  // Outside the engine step a code may be a driver's (ECONNREFUSED, CONNECTION_CLOSED): only known ones count.
  return DETERMINISTIC_CODES.has(code) || (step === "engine" && ENGINE_CODE.test(code));
}

/** The raw text of an error, for the log. */
export function rawText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
