/**
 * The service as a real child process (`bun src/main.ts start|api|worker`) on a port the kernel
 * picks (AURUM_API_PORT=0; a worker's probe server on AURUM_SCENARIO_METRICS_PORT=0): resolves once
 * its log says `listening` (`worker_probes_listening`), with the URL it printed. A process
 * that exits first, or does not listen in time, fails with its exit code and the tail of its output,
 * so a CI log says why. Its output is drained for its whole life (a full pipe would block it).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
/** What an error shows of the process's output: its last 16 KB. */
const TAIL = 16 * 1024;

export type ServiceProcess = {
  base: string;
  pid: number;
  proc: ReturnType<typeof Bun.spawn>;
  /** Milliseconds from spawn to the `listening` line. */
  startedMs: number;
  /** The process's output so far (its last 16 KB). */
  output: () => string;
  rssBytes: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number>;
};

/**
 * `env` is the child's whole environment; port, host and an `info` log level (the `listening` line
 * is info) are set here. `timeoutMs` bounds the wait for the line.
 */
export async function startService(verb: "start" | "api" | "worker", env: Record<string, string | undefined>, timeoutMs = 150_000): Promise<ServiceProcess> {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "src/main.ts", verb], {
    cwd: ROOT,
    env: { ...env, AURUM_API_PORT: "0", AURUM_API_HOST: "127.0.0.1", AURUM_SCENARIO_METRICS_PORT: "0", AURUM_SCENARIO_METRICS_ADDR: "127.0.0.1", AURUM_LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  let tail = "";
  const event = `"event":"${verb === "worker" ? "worker_probes_listening" : "listening"}"`;
  let found = false;
  const url = Promise.withResolvers<string>();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let line = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      tail = (tail + text).slice(-TAIL);
      if (found) continue;
      line += text;
      const lines = line.split("\n");
      line = lines.pop() ?? "";
      for (const l of lines) {
        const match = l.includes(event) ? /"url":"(http:\/\/[^"]+)"/.exec(l) : null;
        if (match?.[1] && !found) {
          found = true;
          url.resolve(match[1]);
        }
      }
    }
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>).catch(() => {});
  void drain(proc.stderr as ReadableStream<Uint8Array>).catch(() => {});

  let timer: Timer | undefined;
  const outcome = await Promise.race([
    url.promise,
    proc.exited.then((code) => new Error(`bun src/main.ts ${verb} exited with ${code} before listening`)),
    new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`bun src/main.ts ${verb} did not listen within ${timeoutMs / 1000} s`)), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome instanceof Error) {
    proc.kill("SIGKILL");
    await proc.exited;
    throw new Error(`${outcome.message}; its output:\n${tail}`);
  }
  return {
    base: outcome,
    pid: proc.pid,
    proc,
    startedMs: performance.now() - started,
    output: () => tail,
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1] ?? 0) * 1024,
    stop: async (signal = "SIGTERM") => {
      proc.kill(signal);
      return proc.exited;
    },
  };
}
