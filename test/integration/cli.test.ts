/**
 * The `aurum` CLI as a process against a real server (`bun src/main.ts start` on an empty data
 * folder): create → run --wait → a CSV/NDJSON export killed mid-download and resumed into a file
 * byte-identical to an uninterrupted one, and each exit code (0, 1, 2, 3, 4, 130).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trickleProxy } from "../support/downloads";
import { eventually } from "../support/eventually";
import { type ServiceProcess, startService } from "../support/service";
import { envWithoutAurum } from "../support/services";
import { pgliteFromTemplate } from "../support/templates";

const ROOT = join(import.meta.dir, "../..");
const CLI = join(ROOT, "src/cli/main.ts");
const BIG = { horizon_months: 240, mc_paths: 100 };
/** About a second of engine time. */
const SLOW = { horizon_months: 480, mc_paths: 10000 };

/** The environment without any AURUM_* variable of the machine running the tests, and `extra`. */
const cleanEnv = (extra: Record<string, string>): Record<string, string> => ({ ...envWithoutAurum(), ...extra });

type Result = { code: number; stdout: string; stderr: string };

describe("the aurum CLI against a running server", () => {
  /** A copy of the migrated PGlite template (test/support/templates.ts): no initdb at start. */
  let dataDir = "";
  const work = mkdtempSync(join(tmpdir(), "aurum-cli-work-"));
  let server: ServiceProcess | undefined;
  let base = "";
  const proxies: { stop(force?: boolean): void }[] = [];

  const spawnCli = (args: string[], env: Record<string, string> = {}) =>
    Bun.spawn(["bun", CLI, ...args], { cwd: work, env: cleanEnv({ AURUM_URL: base, ...env }), stdout: "pipe", stderr: "pipe" });

  async function aurum(args: string[], env: Record<string, string> = {}): Promise<Result> {
    const proc = spawnCli(args, env);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  async function createScenario(name: string, parameters: Record<string, unknown>): Promise<string> {
    const file = join(work, `${name}.json`);
    writeFileSync(file, JSON.stringify({ tenant_id: "cli-tenant", name, parameters }));
    const r = await aurum(["scenarios", "create", "-f", file, "--json"]);
    expect(r).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout).id;
  }

  beforeAll(async () => {
    // One engine thread, so a test can keep it busy and have a run wait QUEUED.
    dataDir = await pgliteFromTemplate();
    server = await startService("start", cleanEnv({ AURUM_DATA_DIR: dataDir, AURUM_WORKER_CONCURRENCY: "1" }));
    base = server.base;
  }, 180_000);

  afterAll(() => {
    for (const p of proxies) p.stop(true);
    server?.proc.kill("SIGKILL");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  let scenarioId = "";

  test("create → run --wait exits 0 once the run SUCCEEDED; --json prints the API's data", async () => {
    scenarioId = await createScenario("cli export", BIG);
    const run = await aurum(["run", scenarioId, "--wait", "--interval", "100", "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ scenario_id: scenarioId, state: "SUCCEEDED" });
    expect(run.stderr).toMatch(/run [0-9a-f-]{36} SUCCEEDED in [\d.]+ s · [\d,]+ rows/);

    const list = await aurum(["scenarios", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(list.stdout).toContain(scenarioId);
    const runs = await aurum(["runs", "list", scenarioId, "--json"]);
    expect(JSON.parse(runs.stdout)[0].state).toBe("SUCCEEDED");
  }, 120_000);

  test("get for people: nested assumptions as indented lines, the run's overrides and as-of date, progress as a percentage", async () => {
    const file = join(work, "readable.json");
    writeFileSync(
      file,
      JSON.stringify({
        tenant_id: "cli-tenant",
        name: "readable",
        parameters: { mc_paths: 100, horizon_months: 3 },
        assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } }],
      }),
    );
    const id = JSON.parse((await aurum(["scenarios", "create", "-f", file, "--json"])).stdout).id as string;
    const shown = await aurum(["scenarios", "get", id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toContain("[object Object]");
    expect(shown.stdout).toContain("assumptions:\n  - driver_type: policy\n    payload:\n");
    for (const line of ["      policy_name: RPS\n", "      start_year: 2030\n", "      target: 0.6\n"]) expect(shown.stdout).toContain(line);

    const run = JSON.parse((await aurum(["run", id, "--set", "discount_rate=0.0612345678", "--wait", "--interval", "100", "--json"])).stdout);
    const got = await aurum(["runs", "get", id, run.id]);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/^progress: +100%$/m);
    expect(got.stdout).toContain("parameters:\n  discount_rate: 0.0612346\n");
    expect(got.stdout).toMatch(new RegExp(`^asof_date: +${run.inputs.asof_date}$`, "m"));
    // --json stays exact.
    expect(JSON.parse((await aurum(["runs", "get", id, run.id, "--json"])).stdout).parameters.discount_rate).toBe(0.0612345678);
  }, 120_000);

  test("a CSV export equals the server's own CSV byte for byte", async () => {
    const r = await aurum(["outputs", scenarioId, "--format", "csv", "-o", "whole.csv", "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    const file = readFileSync(join(work, "whole.csv"));
    const direct = Buffer.from(await (await fetch(`${base}/v1/scenarios/${scenarioId}/outputs?format=csv`)).arrayBuffer());
    expect(file.length).toBeGreaterThan(1_000_000);
    expect(file.equals(direct)).toBe(true);
    expect(summary).toMatchObject({ rows: file.toString().split("\n").length - 2, bytes: file.length, resumed_after_row: null });
    expect(existsSync(join(work, "whole.csv.aurum-resume"))).toBe(false);
  }, 120_000);

  test("compare: a table, or with --json the API's rows across pages; --with is required", async () => {
    const r = await aurum(["compare", scenarioId, "--with", "baseline", "--filter", "metric=mid", "--limit", "1500", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    const api = async (qs: string) => (await (await fetch(`${base}/v1/scenarios/${scenarioId}/compare?with=baseline&metric=mid&${qs}`)).json()).data;
    expect(rows).toEqual([
      ...(await api("limit=1000")),
      ...(await api(`limit=500&cursor=${(await (await fetch(`${base}/v1/scenarios/${scenarioId}/compare?with=baseline&metric=mid&limit=1000`)).json()).meta.next_cursor}`)),
    ]);
    expect(rows).toHaveLength(1500);
    const table = await aurum(["compare", scenarioId, "--with", scenarioId, "--limit", "3"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^CURVE\s+TENOR\s+MONTH\s+METRIC\s+A\s+B\s+DELTA\s+DELTA_PCT\n/);
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(4);
    const missing = await aurum(["compare", scenarioId]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining("error: --with OTHER_SCENARIO or --with baseline is required")]);
    const api404 = await aurum(["compare", scenarioId, "--with", crypto.randomUUID()]);
    expect(api404.code).not.toBe(0);
  }, 120_000);

  const interruptions = [
    ["csv", "SIGKILL"],
    ["ndjson", "SIGKILL"],
    ["csv", "SIGINT"],
  ] as const;
  for (const [format, signal] of interruptions) {
    test(`a ${format} export stopped by ${signal} mid-download resumes into a file byte-identical to an uninterrupted one`, async () => {
      const whole = await aurum(["outputs", scenarioId, "--format", format, "-o", `whole.${format}`]);
      expect(whole.code).toBe(0);
      const expected = readFileSync(join(work, `whole.${format}`));

      // The download goes through a proxy that sends 256 KB at once and then trickles, so the CLI is
      // surely mid-download (with a checkpoint behind it) when it is stopped.
      const proxy = trickleProxy(base, 256 * 1024);
      proxies.push(proxy);
      const file = `part-${signal}.${format}`;
      const sidecar = join(work, `${file}.aurum-resume`);
      const readState = (): { offset: number; rows: number; key: unknown } | undefined => (existsSync(sidecar) ? JSON.parse(readFileSync(sidecar, "utf8")) : undefined);
      const cli = spawnCli(["outputs", scenarioId, "--format", format, "-o", file], { AURUM_URL: `http://127.0.0.1:${proxy.port}` });
      await eventually(() => (readState()?.rows ?? 0) > 0, { what: "a checkpoint with rows", intervalMs: 20 });
      cli.kill(signal);
      const [code, stderr] = await Promise.all([cli.exited, new Response(cli.stderr).text()]);
      if (signal === "SIGINT") {
        expect(code).toBe(130);
        expect(stderr).toMatch(/interrupted after [\d,]+ rows; continue with --resume/);
      }
      const state = readState();
      expect(state?.rows).toBeGreaterThan(0);
      expect(state?.key).toBeTruthy();
      const stoppedAt = statSync(join(work, file)).size;
      expect(stoppedAt).toBeGreaterThanOrEqual(state?.offset ?? 0);
      expect(stoppedAt).toBeLessThan(expected.length);
      // A torn last line, as a crash in the middle of a write leaves it.
      appendFileSync(join(work, file), format === "csv" ? `${scenarioId},torn` : `{"scenario_id":"${scenarioId}","tor`);

      const resumed = await aurum(["outputs", scenarioId, "--format", format, "-o", file, "--resume", "--json"]);
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toContain(`after row ${(state?.rows ?? 0).toLocaleString("en-US")}`);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ resumed_after_row: state?.rows, bytes: expected.length });
      expect(readFileSync(join(work, file)).equals(expected)).toBe(true);
      expect(existsSync(sidecar)).toBe(false);
    }, 120_000);
  }

  /** Keeps the server's one engine thread busy for a few seconds, so the next run waits QUEUED; returns a function that frees it. */
  async function occupyPool(): Promise<() => Promise<void>> {
    const id = await createScenario(`blocker ${Math.random()}`, SLOW);
    const runs: string[] = [];
    for (const seed of [1, 2]) {
      const res = await fetch(`${base}/v1/scenarios/${id}/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seed }) });
      runs.push((await res.json()).data.id);
    }
    return async () => {
      for (const run of runs) await fetch(`${base}/v1/scenarios/runs/${run}/cancel`, { method: "POST" });
    };
  }

  /** `run SCENARIO --wait` with stderr in a file, once it is following its run (so its Ctrl-C handler is in place). */
  async function followRun(scenario: string, extra: string[] = []) {
    const log = join(work, `run-${scenario}.log`);
    const proc = Bun.spawn(["bun", CLI, "run", scenario, "--wait", "--interval", "100", ...extra], {
      cwd: work,
      env: cleanEnv({ AURUM_URL: base }),
      stdout: "ignore",
      stderr: Bun.file(log),
    });
    const runId = await eventually(() => (existsSync(log) ? readFileSync(log, "utf8") : "").match(/^run ([0-9a-f-]{36}) /m)?.[1], {
      what: "run --wait to start following a run",
      intervalMs: 20,
    });
    return { proc, runId, stderr: () => readFileSync(log, "utf8") };
  }

  async function finalState(scenario: string, runId: string): Promise<string> {
    return eventually(
      async () => {
        const state = (await (await fetch(`${base}/v1/scenarios/${scenario}/runs/${runId}`)).json()).data.state as string;
        return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(state) && state;
      },
      { what: `run ${runId} to finish`, intervalMs: 100 },
    );
  }

  test("exit 1: the run ends CANCELLED while run --wait follows it", async () => {
    const release = await occupyPool();
    const id = await createScenario("cli cancelled", BIG);
    const { proc, runId, stderr } = await followRun(id);
    expect((await fetch(`${base}/v1/scenarios/runs/${runId}/cancel`, { method: "POST" })).status).toBe(200);
    expect(await proc.exited).toBe(1);
    expect(stderr()).toContain(`run ${runId} CANCELLED`);
    await release();
  }, 120_000);

  test("exit 130: Ctrl-C while waiting leaves the run alone", async () => {
    const release = await occupyPool();
    const id = await createScenario("cli interrupted", BIG);
    const { proc, runId, stderr } = await followRun(id);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(130);
    expect(stderr()).toContain(`interrupted: run ${runId} goes on; follow it with: aurum runs get ${id} ${runId} --wait`);
    await release();
    expect(await finalState(id, runId)).toBe("SUCCEEDED");
  }, 120_000);

  test("exit 130: Ctrl-C with --cancel-on-interrupt cancels the run", async () => {
    const release = await occupyPool();
    const id = await createScenario("cli cancel on interrupt", BIG);
    const { proc, runId, stderr } = await followRun(id, ["--cancel-on-interrupt"]);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(130);
    expect(stderr()).toContain(`interrupted: cancelling run ${runId}`);
    expect(await finalState(id, runId)).toBe("CANCELLED");
    await release();
  }, 120_000);

  test("exit 2: usage errors say what is wrong and where to look", async () => {
    const cases: [string[], string][] = [
      [["bogus"], "error: unknown command: bogus"],
      [["run"], "error: usage: aurum run SCENARIO"],
      [["scenarios", "list", "--bogus"], "error: Unknown option '--bogus'"],
      [["outputs", scenarioId, "--format", "xml"], "error: --format must be one of json, csv, ndjson, not xml"],
      [["outputs", scenarioId, "--resume"], "error: --resume needs --format csv or ndjson and -o FILE"],
      [["outputs", scenarioId, "--format", "csv", "-o", "whole.csv", "--resume"], "error: nothing to resume: whole.csv has no whole.csv.aurum-resume"],
      [["scenarios", "create", "-f", "missing.json"], "error: cannot read missing.json: no such file"],
      [["scenarios", "list", "--url", "ftp://example.com"], "error: not an http(s) URL: ftp://example.com"],
    ];
    for (const [args, message] of cases) {
      const r = await aurum(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
    const help = await aurum(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("aurum outputs SCENARIO");
  }, 120_000);

  test("exit 3: the API's error envelope on stderr, with the field details", async () => {
    const missing = await aurum(["scenarios", "get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error: scenario not found\n {2}\(HTTP 404 NOT_FOUND, request [0-9a-f-]+\)\n$/);

    writeFileSync(join(work, "invalid.json"), JSON.stringify({ tenant_id: "cli-tenant", name: "", bogus: 1 }));
    const invalid = await aurum(["scenarios", "create", "-f", "invalid.json"]);
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toContain("error: invalid body\n");
    expect(invalid.stderr).toContain("  /name: must be 1..200 characters");
    expect(invalid.stderr).toContain("  /bogus: ");

    // A bad --set value names what the parameter takes.
    const badSet = await aurum(["run", scenarioId, "--set", "mc_paths=0"]);
    expect(badSet.code).toBe(3);
    expect(badSet.stderr).toContain("  /parameters/mc_paths: must be an integer from 100 to 10000");
  }, 120_000);

  test("exit 4: an unreachable server; --url wins over AURUM_URL", async () => {
    const r = await aurum(["scenarios", "list", "--url", "http://127.0.0.1:1"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toStartWith("error: cannot reach http://127.0.0.1:1");
  }, 120_000);

  test("curves import streams the file and prints the counts; a bad line is exit 3 naming it", async () => {
    const header = "curve_key,market,location,product,block,unit,asof_date,contract_month,mid\n";
    writeFileSync(
      join(work, "curves.csv"),
      `${header}CLI_TEST,PJM,PJM West Hub,power,ON_PEAK,USD/MWh,2026-11-27,2027-01,61.25\nCLI_TEST,PJM,PJM West Hub,power,ON_PEAK,USD/MWh,2026-11-27,2027-02,60.5\n`,
    );
    const ok = await aurum(["curves", "import", "curves.csv", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ rows: 2, curves: 1, inserted: 2, updated: 0 });

    writeFileSync(join(work, "bad.csv"), `${header}CLI_TEST,PJM,PJM West Hub,power,ON_PEAK,USD/MWh,2026-11-27,2027-13,61.25\n`);
    const bad = await aurum(["curves", "import", "bad.csv"]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("error: line 2: contract_month");
  }, 120_000);

  test("scenarios delete removes it; get then answers exit 3", async () => {
    const id = await createScenario("cli delete me", {});
    expect((await aurum(["scenarios", "delete", id])).stdout).toBe(`deleted scenario ${id}\n`);
    expect((await aurum(["scenarios", "get", id])).code).toBe(3);
  }, 120_000);
});
