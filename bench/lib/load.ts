/** HTTP load from this process: `n` requests over `concurrency` keep-alive workers; per-request latencies and the wall time. */
export type LoadResult = { latencies: number[]; seconds: number; bytes: number; errors: number };

export async function load(url: string | (() => string), n: number, concurrency: number, init: RequestInit = {}): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        const t = performance.now();
        const res = await fetch(typeof url === "string" ? url : url(), init);
        const body = await res.arrayBuffer();
        latencies.push(performance.now() - t);
        bytes += body.byteLength;
        if (res.status !== 200) errors++;
      }
    }),
  );
  return { latencies, seconds: (performance.now() - t0) / 1000, bytes, errors };
}

/** Spawns `bun <script> [...args]` and reads the first stdout line (ports). */
export async function spawnServer(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ line: string; stop: () => Promise<void> }> {
  const child = Bun.spawn([process.execPath, script, ...args], { stdout: "pipe", stderr: "inherit", env: { ...process.env, ...env } });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} exited before printing its ports`);
    text += new TextDecoder().decode(value);
  }
  return {
    line: text.split("\n")[0] as string,
    stop: async () => {
      child.kill();
      await child.exited;
    },
  };
}
