/**
 * Issue 18, item 1: a second `start` in the same folder (and on the same port) used to listen as
 * well — Elysia asked for SO_REUSEPORT — and open the same PGlite files: requests alternated between
 * two diverging copies and a restart lost one of them. Now the folder is locked and the port not shared.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataDirLockedError, lockDataDirWithPidFile } from "../../src/adapters/datalock";
import { checkedFetch } from "../support/contract";
import { type ServiceProcess, startService } from "../support/service";
import { pgliteFromTemplate } from "../support/templates";
import { cleanEnv, runToExit } from "./spawn";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const json = { "content-type": "application/json" };

async function createScenario(base: string, name: string): Promise<string> {
  const res = await fetch(`${base}/v1/scenarios`, { method: "POST", headers: json, body: JSON.stringify({ tenant_id: "lock-tenant", name }) });
  expect(res.status).toBe(201);
  return (await res.json()).data.id;
}

async function scenarioNames(base: string): Promise<string[]> {
  const res = await fetch(`${base}/v1/scenarios?tenant_id=lock-tenant&limit=100`, { headers: { "x-aurum-tenant": "lock-tenant" } });
  expect(res.status).toBe(200);
  return ((await res.json()).data as { name: string }[]).map((s) => s.name).sort();
}

describe("one process per embedded data folder", () => {
  // Copies of the migrated PGlite template (test/support/templates.ts): the lock is under test, not initdb.
  let dir = "";
  let otherDir = "";
  const running: ServiceProcess[] = [];
  beforeAll(async () => {
    [dir, otherDir] = await Promise.all([pgliteFromTemplate(), pgliteFromTemplate()]);
  });
  afterAll(() => {
    for (const s of running) s.proc.kill("SIGKILL");
    for (const d of [dir, otherDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test("a second start in the same folder and on the same port exits 78 naming the holder; the first loses nothing", async () => {
    const first = await startService("start", cleanEnv({ AURUM_DATA_DIR: dir }));
    running.push(first);
    const before = await createScenario(first.base, "before the second start");
    const port = new URL(first.base).port;

    const second = await runToExit("start", cleanEnv({ AURUM_DATA_DIR: dir, AURUM_API_PORT: port, AURUM_API_HOST: "127.0.0.1" }), 90_000);
    expect(second.code).toBe(78);
    const message = second.stderr.trim();
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toContain(`process ${first.pid}`);
    expect(message).toContain(dir);
    expect(message).not.toContain("    at ");
    expect(second.stdout.trim()).toBe("");

    // The first keeps serving, alone: every write lands in the one copy.
    expect((await fetch(`${first.base}/healthz`)).status).toBe(200);
    const names = ["before the second start"];
    for (let i = 0; i < 10; i++) {
      await createScenario(first.base, `after the second start ${i}`);
      names.push(`after the second start ${i}`);
    }
    expect(await scenarioNames(first.base)).toEqual(names.sort());
    expect(await first.stop("SIGTERM")).toBe(0);

    // Restarted: everything is still there.
    const again = await startService("start", cleanEnv({ AURUM_DATA_DIR: dir }));
    running.push(again);
    expect(await scenarioNames(again.base)).toEqual(names);
    expect((await fetch(`${again.base}/v1/scenarios/${before}`, { headers: { "x-aurum-tenant": "lock-tenant" } })).status).toBe(200);
  }, 180_000);

  test("a holder killed with SIGKILL leaves no lock behind: the next start takes the folder", async () => {
    const holder = running.at(-1) as ServiceProcess;
    await createScenario(holder.base, "written before the crash");
    holder.proc.kill("SIGKILL");
    await holder.proc.exited;
    const next = await startService("start", cleanEnv({ AURUM_DATA_DIR: dir }));
    running.push(next);
    expect(await scenarioNames(next.base)).toContain("written before the crash");
  }, 120_000);

  test("another folder on a port in use is refused (78, one line), not a second listener", async () => {
    const holder = running.at(-1) as ServiceProcess;
    const port = new URL(holder.base).port;
    const other = await runToExit("start", cleanEnv({ AURUM_DATA_DIR: otherDir, AURUM_API_PORT: port, AURUM_API_HOST: "127.0.0.1" }), 90_000);
    expect(other.code).toBe(78);
    expect(other.stderr.trim().split("\n")).toHaveLength(1);
    expect(other.stderr).toContain(`port ${port}`);
    // Every connection still reaches the holder.
    for (let i = 0; i < 5; i++) expect((await fetch(`${holder.base}/healthz`)).status).toBe(200);
  }, 120_000);
});

describe("starts racing for one empty folder", () => {
  test("three at once: exactly one listens, the others exit 78 naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aurum-race-"));
    const spawned = [0, 1, 2].map(() =>
      Bun.spawn([process.execPath, "src/main.ts", "start"], {
        cwd: join(import.meta.dir, "../.."),
        env: cleanEnv({ AURUM_DATA_DIR: dir, AURUM_API_PORT: "0" }),
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    try {
      // Two refused ones exit at once; the holder keeps running (it is killed at the end).
      let exited = 0;
      const twoExited = Promise.withResolvers<void>();
      for (const p of spawned)
        void p.exited.then(() => {
          if (++exited === 2) twoExited.resolve();
        });
      await Promise.race([twoExited.promise, Bun.sleep(60_000)]);
      await Bun.sleep(500);
      const outcomes = await Promise.all(spawned.map(async (p) => ({ p, code: p.exitCode ?? undefined, err: p.exitCode === null ? "" : await new Response(p.stderr).text() })));
      const holders = outcomes.filter((o) => o.code === undefined);
      const refused = outcomes.filter((o) => o.code === 78);
      expect(holders).toHaveLength(1);
      expect(refused).toHaveLength(2);
      for (const r of refused) expect(r.err).toContain(`process ${holders[0]?.p.pid}`);
    } finally {
      for (const p of spawned) p.kill("SIGKILL");
      await Promise.all(spawned.map((p) => p.exited));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the pid-file fallback (where flock is unavailable)", () => {
  test("a live holder's pid refuses, naming it; a dead holder's file is replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aurum-pidlock-"));
    try {
      const sleeper = Bun.spawn(["sleep", "30"]);
      writeFileSync(join(dir, "aurum.pid"), `${sleeper.pid}\n`);
      let refused: unknown;
      try {
        lockDataDirWithPidFile(dir);
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(DataDirLockedError);
      expect((refused as DataDirLockedError).holderPid).toBe(sleeper.pid);
      sleeper.kill("SIGKILL");
      await sleeper.exited;
      // The holder died without cleaning up: its file must not block forever.
      const lock = lockDataDirWithPidFile(dir);
      expect(await Bun.file(lock.file).text()).toBe(`${process.pid}\n`);
      lock.release();
      expect(await Bun.file(lock.file).exists()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
