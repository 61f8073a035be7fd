/**
 * Engine failures that no retry can fix: the same inputs fail the same way every time. They are
 * told apart by the error's `name`, the one thing that survives the worker-thread boundary intact
 * (pool.ts rebuilds a plain Error from the thread's message).
 */

export type PermanentFailure = { code: string; reason: string };

const PERMANENT: Record<string, PermanentFailure> = {
  EngineValidationError: { code: "INVALID_INPUT", reason: "invalid input" },
  NonFiniteOutputError: { code: "NON_FINITE_OUTPUT", reason: "non-finite output" },
  /** A curve snapshot the run recorded was re-imported or removed since the trigger (src/runs/inputs.ts). */
  SnapshotChangedError: { code: "CURVE_SNAPSHOT_CHANGED", reason: "curve snapshot changed" },
};

/** The run's error code and FAILED reason when `err` is deterministic; undefined when a retry may help. */
export function permanentFailure(err: unknown): PermanentFailure | undefined {
  return err instanceof Error && Object.hasOwn(PERMANENT, err.name) ? PERMANENT[err.name] : undefined;
}
