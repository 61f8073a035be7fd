/** The run state machine: the only transitions any code path (API, admin, worker) may make. */

export const RUN_STATES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL: ReadonlySet<RunState> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** QUEUED → RUNNING → SUCCEEDED/FAILED/CANCELLED, QUEUED → CANCELLED, RUNNING → QUEUED (retry or hand-back). */
export const TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  QUEUED: ["RUNNING", "CANCELLED"],
  RUNNING: ["SUCCEEDED", "FAILED", "CANCELLED", "QUEUED"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canTransition(from: RunState, to: RunState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Owner of the lease an admin's QUEUED → RUNNING takes: no worker executes such a run, so nothing
 * heartbeats it; when the lease lapses the reclaimer queues it again (or ends it if cancelled).
 */
export const ADMIN_LEASE_PREFIX = "admin:";
