/**
 * How far two threads of one Bun process can scale on this machine, apart from the pool:
 * `bun bench/threads.ts [--rounds 5] [--kinds engine,arithmetic,strings]`. Each workload runs 4 units of work on one Worker and then
 * split over two, both warmed first, and once as two processes side by side; it prints the
 * medians of the rounds, the 2 / 1 ratio of work per second, and how many cores one process
 * doing it alone keeps busy (its CPU time over its wall time: its collector's and JIT's threads
 * use the second core while one thread computes, so two threads cannot double that). Workloads:
 * - engine: `runScenario` of the runs bench's CPU-heavy run (40 curves, 240 months, 1,000 paths),
 *   its attribution joined per batch as an engine thread runs it (RunOptions.attributionText);
 * - arithmetic: sums into a Float64Array, nothing allocated;
 * - strings: 108,800 short texts like the engine's attribution (`{"policy:0":…}`).
 * The ceiling for the pool's speed-up (docs/performance.md, "Runs across threads").
 */
import { parseArgs } from "node:util";
import { runScenario } from "../src/engine";
import { median } from "./lib/stats";
import { engineInput } from "./suites/engine";

type Kind = "engine" | "arithmetic" | "strings";
const KINDS: Kind[] = ["engine", "arithmetic", "strings"];
const UNITS = 4;
/** Units each Worker or process does first, untimed: after one, the JIT still compiled on the other core through the next four (1.2 cores busy; 1.05 after four). */
const WARM_UP = 4;

function work(kind: Kind, units: number): number {
  let check = 0;
  for (let u = 0; u < units; u++) {
    if (kind === "engine") check += runScenario(engineInput(40, 240, 1_000), { attributionText: true }).rows;
    else if (kind === "arithmetic") {
      const a = new Float64Array(240);
      for (let p = 0; p < 40_000; p++) for (let m = 0; m < 240; m++) a[m] = (a[m] as number) + Math.sin(p * m);
      check += a[7] as number;
    } else {
      const out: string[] = [];
      for (let r = 0; r < 1_088_000; r++) out.push(`{"policy:0":${r * 0.37}}`);
      check += out.length;
    }
  }
  return check;
}

declare const self: Worker;
if (!Bun.isMainThread) {
  self.onmessage = (e: MessageEvent<[Kind, number]>) => self.postMessage(work(...e.data));
} else if (process.argv[2] === "--process") {
  work(process.argv[3] as Kind, WARM_UP);
  const [t0, cpu0] = [performance.now(), process.cpuUsage()];
  work(process.argv[3] as Kind, Number(process.argv[4]));
  const cpu = process.cpuUsage(cpu0);
  console.log(performance.now() - t0, (cpu.user + cpu.system) / 1000);
} else {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, kinds: { type: "string", default: KINDS.join(",") } } });
  const rounds = Number(values.rounds);
  const kinds = values.kinds.split(",") as Kind[];
  const unknown = kinds.filter((k) => !KINDS.includes(k));
  if (unknown.length) throw new Error(`unknown workload(s): ${unknown.join(", ")} (known: ${KINDS.join(", ")})`);
  const call = (w: Worker, kind: Kind, units: number) =>
    new Promise<void>((resolve) => {
      w.onmessage = () => resolve();
      w.postMessage([kind, units]);
    });
  /** ms for UNITS units split over `n` Workers of this process, each warmed with WARM_UP units. */
  async function threads(kind: Kind, n: number): Promise<number> {
    const ws = Array.from({ length: n }, () => new Worker(import.meta.url));
    try {
      await Promise.all(ws.map((w) => call(w, kind, WARM_UP)));
      const t0 = performance.now();
      await Promise.all(ws.map((w) => call(w, kind, UNITS / n)));
      return performance.now() - t0;
    } finally {
      for (const w of ws) w.terminate();
    }
  }
  /** `n` processes side by side, each doing what one Worker did alone: the slower one's ms, and the cores one of them used (CPU time / wall time, GC and JIT threads included). */
  async function processes(kind: Kind, n: number): Promise<{ ms: number; cores: number }> {
    const procs = Array.from({ length: n }, () => Bun.spawn([process.execPath, import.meta.path, "--process", kind, String(UNITS)], { stdout: "pipe" }));
    const out = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim().split(" ").map(Number) as [number, number]));
    return { ms: Math.max(...out.map(([ms]) => ms)), cores: (out[0] as [number, number])[1] / (out[0] as [number, number])[0] };
  }
  console.log("workload     1 thread ms  2 threads ms  2 / 1   2 processes: 2 / 1   cores used by 1 process");
  for (const kind of kinds) {
    const one: number[] = [];
    const two: number[] = [];
    const procs: number[] = [];
    const cores: number[] = [];
    for (let r = 0; r < rounds; r++) {
      one.push(await threads(kind, 1));
      two.push(await threads(kind, 2));
      cores.push((await processes(kind, 1)).cores);
      procs.push((await processes(kind, 2)).ms);
    }
    const speedUp = median(one.map((t, i) => t / (two[i] as number)));
    const procSpeedUp = median(one.map((t, i) => (2 * t) / (procs[i] as number)));
    console.log(
      `${kind.padEnd(12)} ${median(one).toFixed(0).padStart(11)}  ${median(two).toFixed(0).padStart(12)}  ${speedUp.toFixed(2).padStart(5)}   ${procSpeedUp.toFixed(2).padStart(19)}  ${median(cores).toFixed(2).padStart(25)}`,
    );
  }
}
