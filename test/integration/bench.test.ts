/**
 * The bench harness's CI smoke (`bun bench/main.ts --quick`): every suite runs at a tiny size and
 * its figures land in --json; --compare passes against the same file and fails on the synthetic
 * slowdown knob; --report writes an HTML page with inline SVG charts. It asserts that the harness
 * works, not speed. Kafka is not needed; Trino parts are skipped by the harness when it is down.
 * @test-exclusive trino: with Trino up, its export and runs suites write to the Iceberg output
 *   table, and iceberg-maintain.test.ts counts that table's snapshots (it failed once beside it).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchFile } from "../../bench/lib/file";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "aurum-bench-"));
const json = join(dir, "quick.json");
const html = join(dir, "quick.html");
const SUITES = ["export", "query", "singleflight", "runs", "engine", "http"];

async function bench(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, "bench/main.ts", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("bun run bench --quick", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let run: Awaited<ReturnType<typeof bench>>;

  test("runs every suite and writes --json and --report", async () => {
    run = await bench(["--quick", "--json", json, "--report", html]);
    if (run.code !== 0) console.error(run.stdout, run.stderr);
    expect(run.code).toBe(0);
    for (const s of SUITES) expect(run.stdout).toContain(`== ${s}`);
  }, 600_000); // about 100 s on a quiet 2-core machine beside three other files; a ceiling for a hang, not a speed

  test("the JSON has every suite's figures and ratios, with machine facts", () => {
    const file = JSON.parse(readFileSync(json, "utf8")) as BenchFile;
    expect(file.format).toBe("aurum-bench/1");
    expect(file.machine.cores).toBeGreaterThan(0);
    expect(file.machine.bun).toBe(Bun.version);
    expect(file.suites.map((s) => s.suite)).toEqual(SUITES);
    for (const s of file.suites) {
      expect(s.skipped).toBeUndefined();
      expect(s.checks.filter((c) => !c.ok)).toEqual([]);
      expect(s.figures.length).toBeGreaterThan(0);
      expect(s.ratios.length).toBeGreaterThan(0);
      for (const f of s.figures) {
        expect(f.samples.length).toBe(file.repeats);
        expect(Number.isFinite(f.median)).toBe(true);
      }
      for (const r of s.ratios) expect(Number.isFinite(r.median) && r.median > 0).toBe(true);
    }
    const names = file.suites.flatMap((s) => s.ratios.map((r) => `${s.suite}: ${r.name}`));
    for (const r of [
      "export: PG CSV rows/s, API / psql",
      "query: cached p50 / (static p50 + 2 × Redis GET p50), c1, 10-row page, ioredis GET",
      "runs: pool speed-up 1 → 2 threads",
      "http: Elysia / Bun.serve, req/s",
    ])
      expect(names).toContain(r);
    expect(file.suites.find((s) => s.suite === "query")?.distributions.length).toBeGreaterThan(0);
  });

  test("--compare passes against the same file", async () => {
    const same = await bench(["--compare", json, "--against", json, "--tolerance", "10%"]);
    expect(same.stdout).toContain("no regression");
    expect(same.code).toBe(0);
  });

  test("--compare fails with AURUM_BENCH_SLOWDOWN=0.2 (the project side of every ratio 20 % worse)", async () => {
    const slowed = await bench(["--compare", json, "--against", json, "--tolerance", "10%"], { AURUM_BENCH_SLOWDOWN: "0.2" });
    expect(slowed.stdout).toContain("REGRESSION");
    expect(slowed.code).toBe(1);
  });

  test("--report is a self-contained page with inline SVG charts", () => {
    const page = readFileSync(html, "utf8");
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page).toContain("<svg");
    expect(page).toContain("<polyline"); // a latency distribution
    expect(page).not.toMatch(/<script|<link |src="http|href="http/);
  });
});
