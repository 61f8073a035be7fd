/**
 * The one way a test waits for something it cannot await: `eventually(check, { what })` calls
 * `check` until it answers, and fails naming `what` (and the last error `check` threw) when the
 * ceiling passes. The ceiling is generous on purpose: it bounds a hang, it does not measure speed,
 * so a loaded machine makes a test slower, never red. Use an injected clock or a counter when the
 * test is about time itself.
 */

export type EventuallyOptions = {
  /** What the test waits for, as the failure should name it ("the run to succeed"). */
  what: string;
  /** Ceiling for the whole wait; default 50 s, inside the 120 s a test gets from scripts/test.ts unless it sets another ceiling (so this message, not a bare timeout, says what hung). */
  timeoutMs?: number;
  /** Pause between checks; default 50 ms. */
  intervalMs?: number;
};

/**
 * Resolves with the first answer of `check` that is not `undefined`, `null` or `false`. A `check`
 * that throws has not answered yet (an `expect` inside it may pass later); the last error is in
 * the timeout's message.
 */
export async function eventually<T>(check: () => T | Promise<T>, { what, timeoutMs = 50_000, intervalMs = 50 }: EventuallyOptions): Promise<Exclude<T, undefined | null | false>> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const answer = await check();
      if (answer !== undefined && answer !== null && answer !== false) return answer as Exclude<T, undefined | null | false>;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() >= deadline) {
      const why = lastError === undefined ? "" : `; last check failed with: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await Bun.sleep(intervalMs);
  }
}
