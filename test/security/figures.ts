/**
 * Adversarial trials behind the report's table (issue 18, items 1, 11, 12, 13): run by hand,
 * `bun test/security/figures.ts`; prints per category inputs tried, correct, wrong, 5xx/crash, data lost.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { cleanEnv, runToExit, startListening } from "./spawn";

type Row = { tried: number; correct: number; wrong: number; crash: number; lost: number; notes: string[] };
const row = (): Row => ({ tried: 0, correct: 0, wrong: 0, crash: 0, lost: 0, notes: [] });
const rows: Record<string, Row> = {};
const tally = (cat: string, ok: boolean, note?: string, crash = false) => {
  rows[cat] ??= row();
  const r = rows[cat] as Row;
  r.tried++;
  if (crash) r.crash++;
  else if (ok) r.correct++;
  else r.wrong++;
  if (!ok && note) r.notes.push(note);
};
const json = { "content-type": "application/json" };
const SECRET = "Zx9-secret-Q7";
const PEM = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

// ---- 1. one process per data folder
{
  const cat = "1 data folder lock";
  const dir = mkdtempSync(join(tmpdir(), "fig-lock-"));
  let holder = await startListening("start", cleanEnv({ AURUM_DATA_DIR: dir }));
  const port = () => new URL(holder.url).port;
  const written: string[] = [];
  const write = async (base: string, name: string) => {
    const r = await fetch(`${base}/v1/scenarios`, { method: "POST", headers: json, body: JSON.stringify({ tenant_id: "fig", name }) });
    if (r.status === 201) written.push(name);
    else tally(cat, false, `write ${r.status}`, r.status >= 500);
  };
  const names = async (base: string) =>
    new Set(((await (await fetch(`${base}/v1/scenarios?limit=200`, { headers: { "x-aurum-tenant": "fig" } })).json()).data as { name: string }[]).map((s) => s.name));
  for (let i = 0; i < 5; i++) await write(holder.url, `pre-${i}`);
  for (const verb of ["start", "start", "start", "start", "start", "start", "start", "start", "migrate", "worker"]) {
    const r = await runToExit(verb, cleanEnv({ AURUM_DATA_DIR: dir, AURUM_API_PORT: port(), AURUM_API_HOST: "127.0.0.1" }), 40_000);
    const pid = holder.proc.pid;
    tally(cat, r.code === 78 && r.stderr.includes(`process ${pid}`) && r.stderr.trim().split("\n").length === 1, `${verb}: ${r.code} ${r.stderr.slice(0, 200)}`, r.code === -1);
    await write(holder.url, `between-${written.length}`);
  }
  for (let i = 0; i < 30; i++) await write(holder.url, `after-${i}`);
  // Clean restart, then crash restarts (SIGKILL after acknowledged writes).
  for (let round = 0; round < 4; round++) {
    if (round === 0) holder.proc.kill("SIGTERM");
    else holder.proc.kill("SIGKILL");
    await holder.proc.exited;
    holder = await startListening("start", cleanEnv({ AURUM_DATA_DIR: dir }));
    const have = await names(holder.url);
    const missing = written.filter((n) => !have.has(n));
    rows[cat] ??= row();
    (rows[cat] as Row).lost += missing.length;
    tally(cat, missing.length === 0, `restart ${round}: missing ${missing.length}`);
    for (let i = 0; i < 10; i++) await write(holder.url, `round-${round}-${i}`);
  }
  holder.proc.kill("SIGKILL");
  await holder.proc.exited;
  // Races: three starts at once on an empty folder, three times.
  for (let race = 0; race < 3; race++) {
    const rdir = mkdtempSync(join(tmpdir(), "fig-race-"));
    const procs = [0, 1, 2].map(() =>
      Bun.spawn([process.execPath, "src/main.ts", "start"], {
        cwd: join(import.meta.dir, "../.."),
        env: cleanEnv({ AURUM_DATA_DIR: rdir, AURUM_API_PORT: "0" }),
        stdout: "ignore",
        stderr: "pipe",
      }),
    );
    let exited = 0;
    const two = Promise.withResolvers<void>();
    for (const p of procs) void p.exited.then(() => ++exited === 2 && two.resolve());
    await Promise.race([two.promise, Bun.sleep(60_000)]);
    await Bun.sleep(500);
    const alive = procs.filter((p) => p.exitCode === null).length;
    const refused = procs.filter((p) => p.exitCode === 78).length;
    tally(cat, alive === 1 && refused === 2, `race ${race}: alive ${alive} refused ${refused}`);
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    rmSync(rdir, { recursive: true, force: true });
  }
  rmSync(dir, { recursive: true, force: true });
}

// ---- 11. credentials never printed
{
  const cat = "11 credentials masked";
  const bad = [
    ["AURUM_APP_DB_DSN", `mysql://aurum:${SECRET}@db/app`],
    ["AURUM_APP_DB_DSN", `postgres//aurum:${SECRET}@db/app`],
    ["AURUM_APP_DB_DSN", `aurum:${SECRET}@db/app`],
    ["AURUM_APP_DB_DSN", `postgres://aurum:${SECRET}@db:notaport/app`],
    ["AURUM_APP_DB_DSN", `host=db user=aurum password=${SECRET}`],
    ["AURUM_TIMESCALE_DSN", `postgresql:/aurum:${SECRET}@db/app`],
    ["AURUM_REDIS_URL", `http://:${SECRET}@cache:6379`],
    ["AURUM_REDIS_URL", `redis//:${SECRET}@cache:6379`],
    ["AURUM_REDIS_URL", `${SECRET}@cache:6379`],
    ["AURUM_TRINO_URL", `trino://aurum:${SECRET}@trino:8080`],
    ["AURUM_TRINO_URL", `https://aurum:${SECRET}@trino:notaport`],
    ["AURUM_TRINO_URL", `https://aurum:p@ss:${SECRET}@tri no`],
  ];
  for (const [name, value] of bad) {
    let msg = "";
    try {
      loadConfig({ [name as string]: value });
    } catch (err) {
      msg = (err as Error).message;
    }
    tally(cat, msg.includes(name as string) && !msg.includes(SECRET), `${name}=${value}: ${msg}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "fig-secret-"));
  for (const [name, value] of bad.slice(0, 6)) {
    const r = await runToExit("start", cleanEnv({ AURUM_DATA_DIR: dir, [name as string]: value }));
    tally(cat, r.code === 78 && !(r.stdout + r.stderr).includes(SECRET), `process ${name}: ${r.code}`);
  }
  const r = await runToExit("start", cleanEnv({ AURUM_DATA_DIR: dir, AURUM_APP_DB_DSN: `postgres://aurum:${SECRET}@127.0.0.1:1/app` }), 60_000);
  tally(cat, r.code !== 0 && !(r.stdout + r.stderr).includes(SECRET), "unreachable db");
  const s = await startListening(
    "start",
    cleanEnv({
      AURUM_DATA_DIR: dir,
      AURUM_APP_DB_DSN: `postgres://postgres:${SECRET}@127.0.0.1:5432/postgres`,
      AURUM_REDIS_URL: `redis://:${SECRET}@127.0.0.1:1/0`,
      AURUM_LOG_LEVEL: "debug",
    }),
  );
  for (let i = 0; i < 5; i++) await fetch(`${s.url}/v1/scenarios?limit=1`, { headers: { "x-aurum-tenant": "fig" } });
  await Bun.sleep(3_000);
  s.proc.kill("SIGTERM");
  await s.proc.exited;
  tally(cat, !s.output().includes(SECRET), "normal start logs");
  rmSync(dir, { recursive: true, force: true });
}

// ---- 12. local mode exposure
{
  const cat = "12 local mode / cross-site";
  const dir = mkdtempSync(join(tmpdir(), "fig-local-"));
  const s = await startListening("start", cleanEnv({ AURUM_DATA_DIR: dir }));
  const base = s.url;
  tally(cat, new URL(base).hostname === "127.0.0.1", "bind");
  tally(cat, s.output().includes('"event":"auth_disabled"'), "warn");
  const count = async () => ((await (await fetch(`${base}/v1/scenarios?limit=200`, { headers: { "x-aurum-tenant": "fig" } })).json()).data as unknown[]).length;
  const created = await (await fetch(`${base}/v1/scenarios`, { method: "POST", headers: json, body: JSON.stringify({ tenant_id: "fig", name: "target" }) })).json();
  const id = created.data.id as string;
  const run = await (await fetch(`${base}/v1/scenarios/${id}/run`, { method: "POST", headers: { ...json, "x-aurum-tenant": "fig" }, body: "{}" })).json();
  const runId = (run.data?.run_id ?? run.data?.id) as string;
  const targets: [string, string, string | undefined][] = [
    ["POST", "/v1/scenarios", JSON.stringify({ tenant_id: "fig", name: "forged" })],
    ["PATCH", `/v1/scenarios/${id}`, JSON.stringify({ name: "forged" })],
    ["POST", `/v1/scenarios/${id}/run`, "{}"],
    ["POST", `/v1/scenarios/runs/${runId}/cancel`, undefined],
    ["DELETE", `/v1/scenarios/${id}`, undefined],
    ["POST", "/v1/curves:import", "curve_key,market,location,product,block,unit,asof_date,contract_month,mid\nFORGED,PJM,W,power,ON_PEAK,USD/MWh,2026-11-27,2027-01,1\n"],
    ["PUT", "/v1/admin/config/feature-flags/fig/scenario_outputs", JSON.stringify({ enabled: false })],
  ];
  const simple = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "text/plain;charset=UTF-8", undefined];
  const origins = ["https://evil.example", "null", `http://localhost.evil.example:${new URL(base).port}`, undefined];
  const before = await count();
  for (const [method, path, body] of targets) {
    for (const type of simple) {
      for (const origin of origins) {
        const headers: Record<string, string> = { "x-aurum-tenant": "fig" };
        if (type) headers["content-type"] = type;
        if (origin) headers.origin = origin;
        // No Origin, no content type and no body is no browser forgery (curl, the CLI): not part of this matrix.
        if (origin === undefined && type === undefined && body === undefined) continue;
        const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
        tally(cat, res.status === 403 || res.status === 415, `${method} ${path} ${type} ${origin}: ${res.status}`, res.status >= 500);
      }
    }
    // JSON (or CSV) but cross-origin.
    const goodType = path.endsWith(":import") ? "text/csv" : "application/json";
    for (const origin of origins.filter(Boolean) as string[]) {
      const res = await fetch(`${base}${path}`, { method, headers: { "x-aurum-tenant": "fig", "content-type": goodType, origin }, ...(body !== undefined ? { body } : {}) });
      tally(cat, res.status === 403, `${method} ${path} json ${origin}: ${res.status}`, res.status >= 500);
    }
  }
  // DNS rebinding: reads addressed to a foreign host name.
  for (const host of ["rebound.example", "192.0.2.9", "localhost.evil.example"]) {
    const res = await fetch(`${base}/v1/scenarios/${id}`, { headers: { host, "x-aurum-tenant": "fig" } });
    tally(cat, res.status === 403, `host ${host}: ${res.status}`);
  }
  // Same-origin console-style requests still work.
  const same = await fetch(`${base}/v1/scenarios`, {
    method: "POST",
    headers: { ...json, origin: `http://127.0.0.1:${new URL(base).port}` },
    body: JSON.stringify({ tenant_id: "fig", name: "same" }),
  });
  tally(cat, same.status === 201, `same-origin ${same.status}`);
  const after = await count();
  // The run-cancel without origin/body is curl-like and allowed; nothing else may have changed: +1 (same origin).
  tally(cat, after === before + 1, `scenario count ${before} -> ${after}`);
  const exists = await fetch(`${base}/v1/scenarios/${id}`, { headers: { "x-aurum-tenant": "fig" } });
  tally(cat, exists.status === 200, `target survived ${exists.status}`);
  s.proc.kill("SIGTERM");
  await s.proc.exited;
  rmSync(dir, { recursive: true, force: true });
}

// ---- 12/13. refused starts
{
  const cat = "12+13 start-up refusals";
  const dir = mkdtempSync(join(tmpdir(), "fig-refuse-"));
  const cases: [string, Record<string, string>][] = [
    ["api", {}],
    ["api", { AURUM_API_AUTH_DISABLED: "0" }],
    ["api", { AURUM_API_AUTH_DISABLED: "" }],
    ["api", { AURUM_API_AUTH_PUBLIC_KEY: "nope" }],
    ["api", { AURUM_API_AUTH_JWKS_URL: "ftp://x" }],
    ["start", { AURUM_API_AUTH_DISABLED: "0" }],
    ["start", { AURUM_API_AUTH_DISABLED: "off" }],
    ["start", { AURUM_API_AUTH_PUBLIC_KEY: "" }],
    ["start", { AURUM_API_AUTH_JWKS_URL: "" }],
    ["start", { AURUM_API_AUTH_PUBLIC_KY: PEM }],
    ["start", { AURUM_API_AUTH_JWKS_ULR: "https://i.example/jwks" }],
    ["start", { AURUM_API_AUTH_JWKSURL: "https://i.example/jwks" }],
    ["start", { AURUM_API_AUTH_DISABLED: "yes", AURUM_API_AUTH_PUBLIC_KEY: PEM }],
    ["api", { AURUM_API_AUTH_DISABLED: "1", AURUM_API_AUTH_JWKS_URL: "https://i.example/jwks" }],
    ["api", { AURUM_API_AUTH_DISABLED: "true", AURUM_API_AUTH_PUBLIC_KEY: PEM }],
  ];
  for (const [verb, extra] of cases) {
    const r = await runToExit(verb, cleanEnv({ AURUM_DATA_DIR: join(dir, "x"), AURUM_API_PORT: "0", ...extra }));
    const ok = r.code === 78 && r.stderr.trim().split("\n").length === 1 && !/^\s+at /m.test(r.stderr) && !r.stdout.includes("listening");
    tally(cat, ok, `${verb} ${JSON.stringify(extra).slice(0, 80)}: ${r.code} ${r.stderr.slice(0, 160)}`, r.code === 1);
  }
  rmSync(dir, { recursive: true, force: true });
}

console.log("| category | inputs tried | correct | wrong | 5xx/crash | data lost |");
console.log("|---|---|---|---|---|---|");
for (const [cat, r] of Object.entries(rows)) console.log(`| ${cat} | ${r.tried} | ${r.correct} | ${r.wrong} | ${r.crash} | ${r.lost} |`);
for (const [cat, r] of Object.entries(rows)) for (const n of r.notes.slice(0, 10)) console.log(`  ${cat}: ${n}`);
