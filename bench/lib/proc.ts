/** Client-process timings shared by the export suite and bench/outputs.ts-style measures. */
import { readFileSync } from "node:fs";

/** Wall seconds and stdout bytes of a command (stdout counted, not kept). */
export async function timedBytes(cmd: string[]): Promise<{ seconds: number; bytes: number }> {
  const start = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit" });
  let bytes = 0;
  for await (const chunk of proc.stdout) bytes += chunk.length;
  if ((await proc.exited) !== 0) throw new Error(`${cmd[0]} failed: ${cmd.join(" ").slice(0, 200)}`);
  return { seconds: (performance.now() - start) / 1000, bytes };
}

/** Milliseconds from spawning the command to its first byte on stdout. */
export async function firstByte(cmd: string[]): Promise<number> {
  const start = performance.now();
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "ignore" });
  const reader = proc.stdout.getReader();
  await reader.read();
  const ms = performance.now() - start;
  proc.kill();
  await proc.exited;
  return ms;
}

/** Runs `work` while sampling `rss()` every 20 ms; returns the peak. */
export async function peakDuring(rss: () => number, work: () => Promise<unknown>): Promise<number> {
  let peak = rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rss());
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at its closing parenthesis: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
