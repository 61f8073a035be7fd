/**
 * A service process run to its exit (for starts that must be refused), and the environment the
 * security tests give their processes: this machine's, without any AURUM_* setting of the caller's.
 */
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

/** process.env minus every AURUM_* variable (test helpers' AURUM_TEST_* kept), plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AURUM_") || k.startsWith("AURUM_TEST_")) env[k] = v;
  return { ...env, AURUM_LOG_LEVEL: "info", ...extra };
}

export type Exited = { code: number; stdout: string; stderr: string; ms: number };

/** Runs `bun src/main.ts <verb>` with exactly `env` until it exits (killed after `timeoutMs`, code then -1). */
export async function runToExit(verb: string, env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<Exited> {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "src/main.ts", verb], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: proc.signalCode ? -1 : code, stdout, stderr, ms: performance.now() - started };
}

export type Running = { proc: ReturnType<typeof Bun.spawn>; output: () => string; url: string };

/**
 * Starts `bun src/main.ts <verb>` with exactly `env` (unlike startService, which pins the host to
 * 127.0.0.1) and resolves at its `listening` line with the URL it printed.
 */
export async function startListening(verb: string, env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<Running> {
  const proc = Bun.spawn([process.execPath, "src/main.ts", verb], { cwd: ROOT, env: { AURUM_API_PORT: "0", ...env }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const listening = Promise.withResolvers<string>();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      out += decoder.decode(chunk, { stream: true });
      const m = /"event":"listening","url":"(http:\/\/[^"]+)"/.exec(out);
      if (m?.[1]) listening.resolve(m[1]);
    }
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>).catch(() => {});
  void drain(proc.stderr as ReadableStream<Uint8Array>).catch(() => {});
  let timer: Timer | undefined;
  const url = await Promise.race([
    listening.promise,
    proc.exited.then((code) => new Error(`exited with ${code} before listening:\n${out}`)),
    new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`did not listen within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (url instanceof Error) {
    proc.kill("SIGKILL");
    throw url;
  }
  return { proc, output: () => out, url };
}
