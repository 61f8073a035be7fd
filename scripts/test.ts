/**
 * `npm test`: runs the test files (all of test/ unless paths are given) in parallel, one
 * `bun test <file>` process per file and AURUM_TEST_JOBS of them at a time (default: cores + 1.
 * With 4 on a 2-core machine the load average stayed at 10–12 and every full run failed one
 * time-bounded test or another; a file's waits on Postgres, Kafka or Trino still overlap with the
 * others' work). Files start longest first by the durations in test/timings.json, so
 * the slowest file does not start last, except that files which hold a service alone (Trino) go as
 * soon as it is free (see prioritise). Files that would disturb each other through Kafka or
 * Trino do not run together (see holdsOf). Each file's output is printed whole when the file ends, so files never
 * interleave. Files that run alone go first. Closes with the list of skipped tests (by file, with the reason the file gave in a
 * `SKIP ...` line), each file's wall time when asked (`--durations`), and one line
 * `tests: N passed, N failed[, N skipped]` that CI reads. Exit code: 1 when a test failed or a
 * file crashed (exited non-zero, or ran past FILE_CEILING_MS and was killed).
 *
 *   bun scripts/test.ts [--update-timings] [--durations] [file|folder|substring ...]
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const TIMINGS = join(ROOT, "test", "timings.json");
/**
 * bun's per-test (and per-hook) ceiling where a test sets none: it bounds a hang, so it is generous;
 * beside a CPU hog, starting a process or a PGlite database can take most of a minute.
 */
const TEST_TIMEOUT_MS = 120_000;
/** A file still running after this is hung (its tests have their own 60 s ceilings): killed and failed. */
const FILE_CEILING_MS = 15 * 60_000;
/** The estimate for a file test/timings.json does not know yet. */
const UNKNOWN_FILE_MS = 5_000;

const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith("--")));
const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const defaultJobs = navigator.hardwareConcurrency + 1;
const jobs = Math.max(1, Number(process.env.AURUM_TEST_JOBS ?? defaultJobs) || defaultJobs);

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes bun may print
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

type FileResult = {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  skips: string[];
  reasons: string[];
  /** Each failed test: its `(fail)` line after the error bun printed for it (at most FAILURE_LINES lines). */
  failures: string[];
  /** When the file started, from the start of the whole run, and how long it took. */
  startMs: number;
  ms: number;
  /** CPU time of the file's process and the children it waited for (servers it spawned); not of Postgres, Kafka or Trino. */
  cpuMs: number;
  crash?: string;
};
/** How much of a failed test's error the closing summary repeats (CI shows only the end of the output). */
const FAILURE_LINES = 30;

/** The test files bun would pick up under test/, narrowed to the arguments (a file, a folder, or a substring as bun takes it). */
function testFiles(): string[] {
  const all = [...new Bun.Glob("test/**/*{.test,_test,.spec,_spec}.{ts,tsx,js,jsx,mts,cts,mjs,cjs}").scanSync({ cwd: ROOT })].sort();
  if (args.length === 0) return all;
  const wanted = args.map((a) => relative(ROOT, join(process.cwd(), a)));
  return all.filter((f) =>
    wanted.some((w, i) => {
      const isDir = existsSync(join(ROOT, w)) && statSync(join(ROOT, w)).isDirectory();
      return f === w || (isDir && f.startsWith(`${w}/`)) || f.includes(args[i] as string);
    }),
  );
}

/**
 * The machine's CPU time so far, all cores, from /proc/stat (Linux; undefined elsewhere): busy and
 * total. Over a run it tells whether the suite waited on the cores (services included) or on timers.
 */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const [, ...ticks] = (readFileSync("/proc/stat", "utf8").split("\n")[0] as string).trim().split(/\s+/);
    const n = ticks.map(Number);
    const total = n.reduce((a, b) => a + b, 0);
    // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy
    return { busy: total - (n[3] ?? 0) - (n[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

function recordedTimings(): Record<string, number> {
  return existsSync(TIMINGS) ? (JSON.parse(readFileSync(TIMINGS, "utf8")) as Record<string, number>) : {};
}

/**
 * The shared services a file holds while it runs. A file that calls `requireService("kafka")` uses
 * the broker beside others (every file makes its own topics and groups); one that declares
 * `@test-exclusive kafka` (it stops the broker) runs with no other Kafka file. Trino files run one
 * at a time: they all write iceberg.market.scenario_output, and Iceberg commits racing on one
 * table can fail each other. Every file shares the `machine`; one that declares
 * `@test-exclusive machine` runs with no other file at all, except a file that declares
 * `@test-waits` (it spends its time on timers and throttled clients, not on the CPU): such a file
 * holds no share of the machine, so it fills the cores an exclusive file leaves idle (kafka-worker,
 * first in every run, keeps about one of two busy).
 */
type Hold = "shared" | "exclusive";
const DEFAULT_HOLD: Record<string, Hold> = { kafka: "shared", trino: "exclusive" };
function holdsOf(file: string): Map<string, Hold> {
  const text = readFileSync(join(ROOT, file), "utf8");
  const holds = new Map<string, Hold>(/@test-waits\b/.test(text) ? [] : [["machine", "shared"]]);
  for (const [, name] of text.matchAll(/requireService\("(\w+)"\)/g)) holds.set(name as string, DEFAULT_HOLD[name as string] ?? "exclusive");
  for (const [, name] of text.matchAll(/@test-exclusive (\w+)/g)) holds.set(name as string, "exclusive");
  return holds;
}

/** A file's result before anything is known of it. */
const blank = (file: string, startMs: number): FileResult & { output: string } => ({
  file,
  passed: 0,
  failed: 0,
  skipped: 0,
  skips: [],
  reasons: [],
  failures: [],
  startMs,
  ms: 0,
  cpuMs: 0,
  output: "",
});

/** Runs one file in its own `bun test` process; its output is kept, not printed. */
async function runFile(file: string): Promise<FileResult & { output: string }> {
  const started = performance.now();
  const startMs = started - runStarted;
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    // This runner's own bun, not whichever one PATH finds.
    proc = Bun.spawn([process.execPath, "test", "--timeout", String(TEST_TIMEOUT_MS), `./${file}`], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: process.env });
  } catch (err) {
    // A file that cannot start is a crash of that file, not of the whole run.
    return { ...blank(file, startMs), crash: `could not start: ${(err as Error).message}` };
  }
  let output = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  let hung = false;
  const ceiling = setTimeout(() => {
    hung = true;
    proc.kill("SIGKILL");
  }, FILE_CEILING_MS);
  await Promise.all([read(proc.stdout), read(proc.stderr), proc.exited]);
  clearTimeout(ceiling);
  const ms = performance.now() - started;
  const cpuMs = Number(proc.resourceUsage()?.cpuTime.total ?? 0n) / 1000;
  const result = { ...blank(file, startMs), ms, cpuMs };
  const kept: string[] = [];
  /** Where the current test's output began in `kept` (just after the previous test's result line). */
  let testStart = 0;
  for (const line of output.split("\n")) {
    const plain = line.replace(ANSI_COLOUR, "");
    const count = /^\s*(\d+) (pass|fail|skip)$/.exec(plain);
    if (count) {
      result[({ pass: "passed", fail: "failed", skip: "skipped" } as const)[count[2] as "pass" | "fail" | "skip"]] = Number(count[1]);
      continue;
    }
    // bun's banner and its one-file totals: the runner prints its own.
    if (/^bun test v|^\s*\d+ expect\(\) calls$|^Ran \d+ tests? across \d+ files?\./.test(plain)) continue;
    if (plain.startsWith("(skip) ")) result.skips.push(plain.slice(7));
    else if (plain.startsWith("SKIP ")) result.reasons.push(plain.slice(5));
    kept.push(line);
    if (/^\((pass|fail|skip|todo)\) /.test(plain)) {
      if (plain.startsWith("(fail) "))
        result.failures.push(
          kept
            .slice(Math.max(testStart, kept.length - FAILURE_LINES))
            .join("\n")
            .replace(ANSI_COLOUR, ""),
        );
      testStart = kept.length;
    }
  }
  const code = proc.exitCode ?? -1;
  if (hung) result.crash = `killed after ${FILE_CEILING_MS / 60_000} minutes`;
  else if (code !== 0 && result.failed === 0) result.crash = `exited with ${proc.signalCode ?? code} without a failing test`;
  result.output = `${kept.join("\n").trim()}\n`;
  return result;
}

const files = testFiles();
if (files.length === 0) {
  console.log(`no test files match ${args.join(" ")}`);
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
const timings = recordedTimings();
const estimate = (f: string) => timings[f] ?? UNKNOWN_FILE_MS;
/** Files that hold the whole machine go first, while nothing else runs: later, each would wait for every running file to end with the other lanes idle. */
const alone = (q: { holds: Map<string, Hold> }) => (q.holds.get("machine") === "exclusive" ? 1 : 0);
const queue = files.map((file) => ({ file, holds: holdsOf(file) }));
/**
 * Then the file that the most waiting work depends on: a file that holds a service alone (Trino)
 * stands for every waiting file that does too, since those can only run one after another; any
 * other, for itself. So the Trino files run back to back from the start, and the rest fill the
 * other lanes around them, longest first. Longest first alone had the Trino files wait behind
 * longer ones: stop 41's clean-clone run had no Trino file running for 49 of its 408 s, and its
 * Trino files (252 s in all, one at a time) ended last.
 */
function prioritise(): void {
  const chain = new Map<string, number>();
  for (const q of queue) for (const [name, hold] of q.holds) if (hold === "exclusive" && name !== "machine") chain.set(name, (chain.get(name) ?? 0) + estimate(q.file));
  const priority = (q: (typeof queue)[number]) => Math.max(estimate(q.file), ...[...q.holds].map(([name, hold]) => (hold === "exclusive" ? (chain.get(name) ?? 0) : 0)));
  queue.sort((a, b) => alone(b) - alone(a) || priority(b) - priority(a) || estimate(b.file) - estimate(a.file));
}
/** Service -> how many running files hold it, and whether one holds it alone. */
const held = new Map<string, { count: number; exclusive: boolean }>();
const results: (FileResult & { output: string })[] = [];
const runStarted = performance.now();
const cpuStarted = machineCpu();
console.error(`bun test: ${files.length} files, ${Math.min(jobs, files.length)} at a time (AURUM_TEST_JOBS)\n`);

/**
 * The first waiting file whose services are free. A file waiting for a service alone reserves it:
 * files behind it in the queue do not take it meanwhile (else shared users could starve it).
 */
function nextRunnable(): number {
  prioritise();
  const reserved = new Set<string>();
  for (const [i, q] of queue.entries()) {
    let free = true;
    for (const [name, hold] of q.holds) {
      const h = held.get(name);
      const busy = hold === "exclusive" ? (h?.count ?? 0) > 0 : h?.exclusive === true;
      if (busy || reserved.has(name)) free = false;
    }
    if (free) return i;
    for (const [name, hold] of q.holds) if (hold === "exclusive") reserved.add(name);
  }
  return -1;
}

/** One lane: runs the next runnable file, until none is left. */
async function lane(): Promise<void> {
  for (;;) {
    const next = nextRunnable();
    if (next < 0) {
      if (queue.length === 0) return;
      await Bun.sleep(50); // only files waiting for a busy service are left
      continue;
    }
    const [{ file, holds }] = queue.splice(next, 1) as [(typeof queue)[number]];
    for (const [name, hold] of holds) {
      const h = held.get(name) ?? { count: 0, exclusive: false };
      held.set(name, { count: h.count + 1, exclusive: hold === "exclusive" });
    }
    const r = await runFile(file);
    for (const name of holds.keys()) {
      const h = held.get(name) as { count: number; exclusive: boolean };
      held.set(name, { count: h.count - 1, exclusive: false });
    }
    const counts = `${r.passed} pass, ${r.failed} fail${r.skipped ? `, ${r.skipped} skip` : ""}`;
    process.stderr.write(`${r.output}${r.crash ? `CRASH ${file}: ${r.crash}\n` : ""}  -> ${file}: ${counts} [${(r.ms / 1000).toFixed(1)} s]\n\n`);
    results.push(r);
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, lane));

const sum = (k: "passed" | "failed" | "skipped") => results.reduce((n, r) => n + r[k], 0);
const [passed, skipped] = [sum("passed"), sum("skipped")];
// A crashed file is a failure even when no test in it reported one.
const failed = sum("failed") + results.filter((r) => r.crash).length;
const skippedFiles = results.filter((r) => r.skips.length > 0).sort((a, b) => a.file.localeCompare(b.file));
if (skippedFiles.length > 0) {
  console.log(`\nskipped tests (${skipped}):`);
  for (const r of skippedFiles) {
    console.log(`  ${r.file}: ${r.reasons.join("; ") || "no reason given"}`);
    for (const t of r.skips) console.log(`    - ${t}`);
  }
}
const failures = results.filter((r) => r.failed > 0 || r.crash);
if (failures.length > 0) {
  // Repeated here, at the end, because CI shows only the end of the output.
  console.log("\nfailed tests, each with the end of its output:");
  for (const r of failures) {
    for (const f of r.failures) console.log(`\n--- ${r.file}\n${f}`);
    // A crash has no failed test to show: the end of the file's output is what tells why.
    if (r.crash) console.log(`\n--- ${r.file} (${r.crash}), the end of its output:\n${r.output.trimEnd().split("\n").slice(-FAILURE_LINES).join("\n").replace(ANSI_COLOUR, "")}`);
  }
  console.log(`\nfiles with failures:\n${failures.map((r) => `  ${r.file}${r.crash ? ` (${r.crash})` : ` (${r.failed} failed)`}`).join("\n")}`);
}
if (flags.has("--durations")) {
  console.log("\nfile wall times (slowest first), with when each started and the CPU time of its processes:");
  const s = (ms: number) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
  for (const r of [...results].sort((a, b) => b.ms - a.ms)) console.log(`  ${s(r.ms)}  ${r.file} (at ${s(r.startMs).trim()}, CPU ${s(r.cpuMs).trim()})`);
}
if (flags.has("--update-timings")) {
  const updated = { ...timings, ...Object.fromEntries(results.map((r) => [r.file, Math.round(r.ms)])) };
  const kept = Object.fromEntries(
    Object.entries(updated)
      .filter(([f]) => existsSync(join(ROOT, f)))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(TIMINGS, `${JSON.stringify(kept, null, 2)}\n`);
}
const cpuEnded = machineCpu();
const busy = cpuStarted && cpuEnded ? ` (the machine's CPU busy ${Math.round((100 * (cpuEnded.busy - cpuStarted.busy)) / (cpuEnded.total - cpuStarted.total))} % of the time)` : "";
console.log(`\n${results.length} files in ${((performance.now() - runStarted) / 1000).toFixed(1)} s with ${Math.min(jobs, files.length)} at a time${busy}`);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
