/**
 * The two timer shapes the service repeats: a bounded wait on a promise, and a pause a polling
 * loop takes that stop() or new work cuts short. Both clear their timers as soon as they are
 * done, so a pending timeout never holds a process open after the work it bounded.
 */

/**
 * Settles like `p`, or after `ms` with what `onTimeout` returns (or throws), whichever comes first.
 * `p` is not cancelled: the operation may still finish later, and its result is then dropped.
 */
export function withTimeout<T, U>(p: PromiseLike<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export type Sleeper = {
  /** Resolves after `ms`, or earlier when wake() is called. */
  sleep(ms: number): Promise<void>;
  /** Ends every pause in progress now; a later sleep() waits its full time again. */
  wake(): void;
};

export function createSleeper(): Sleeper {
  const sleepers = new Set<() => void>();
  return {
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          sleepers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        sleepers.add(done);
      }),
    wake() {
      for (const done of [...sleepers]) done();
    },
  };
}
