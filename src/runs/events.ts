/**
 * `GET /v1/scenarios/{id}/runs/{run_id}/events`: a run's state as server-sent events. The run is
 * sent at once and again whenever it changes (the row is read every `pollMs`); the stream ends
 * after a terminal state. Comment lines keep idle connections alive; the loop stops as soon as
 * the client goes away (request signal or stream cancel).
 */
import { createSleeper } from "../platform/timers";
import type { RunRecord } from "./model";
import { type RunState, TERMINAL } from "./state";

export type RunEventOptions = {
  /** How often the run row is read. Default 500 ms. */
  pollMs?: number;
  /** A `: ping` comment after this long without a write. Default 15 s. */
  heartbeatMs?: number;
};

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  // Proxies (nginx) must pass events through as they come.
  "x-accel-buffering": "no",
} as const;

/** What a client sees change: everything but `updated_at`, which the worker's heartbeat bumps every second. */
const fingerprint = ({ updated_at: _, ...visible }: RunRecord) => JSON.stringify(visible);

export function runEventStream(o: {
  first: RunRecord;
  /** The run now; undefined once it is gone (its scenario was deleted). */
  read: () => Promise<RunRecord | undefined>;
  signal: AbortSignal;
  options?: RunEventOptions;
  onError?: (err: unknown) => void;
}): ReadableStream<Uint8Array> {
  const pollMs = o.options?.pollMs ?? 500;
  const heartbeatMs = o.options?.heartbeatMs ?? 15_000;
  const encoder = new TextEncoder();
  let stopped = false;
  const pause = createSleeper();
  const stop = () => {
    stopped = true;
    pause.wake();
  };
  o.signal.addEventListener("abort", stop, { once: true });

  return new ReadableStream<Uint8Array>({
    start(controller) {
      let seq = 0;
      let lastWrite = Date.now();
      const write = (text: string) => {
        if (stopped) return;
        controller.enqueue(encoder.encode(text));
        lastWrite = Date.now();
      };
      const send = (event: string, data: unknown) => write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      const finish = () => {
        if (!stopped) controller.close();
        stop();
        o.signal.removeEventListener("abort", stop);
      };

      void (async () => {
        // A reconnecting EventSource waits this long; each connection starts with the current state anyway.
        write("retry: 2000\n\n");
        let run = o.first;
        let last = fingerprint(run);
        send("run", run);
        while (!stopped && !TERMINAL.has(run.state as RunState)) {
          await pause.sleep(pollMs);
          if (stopped) break;
          let now: RunRecord | undefined;
          try {
            now = await o.read();
          } catch (err) {
            o.onError?.(err);
            send("error", { code: "UNAVAILABLE", message: "the run could not be read; reconnect to resume" });
            break;
          }
          if (!now) {
            send("error", { code: "NOT_FOUND", message: "run not found (its scenario was deleted)" });
            break;
          }
          run = now;
          const next = fingerprint(run);
          if (next !== last) {
            last = next;
            send("run", run);
          } else if (Date.now() - lastWrite >= heartbeatMs) {
            write(": ping\n\n");
          }
        }
        if (!stopped && TERMINAL.has(run.state as RunState)) send("end", { state: run.state });
        finish();
      })().catch((err) => {
        o.onError?.(err);
        finish();
      });
    },
    cancel() {
      stop();
    },
  });
}
