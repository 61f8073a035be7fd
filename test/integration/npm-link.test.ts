/**
 * `npm link` then `aurum` with only Node and npm on PATH (issue 19 item 10): the package is copied to
 * a temporary folder (its node_modules hard-linked, so the shared one is never touched), linked
 * into a temporary npm prefix, and `aurum` is run with PATH holding just a folder with `node` and
 * `npm` and the prefix's bin. The launcher (bin/aurum.js) finds Bun in the package's own
 * node_modules and runs the CLI with it against a real server; exit codes pass through. Negative:
 * a copy without node_modules answers 127 with what to do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp, createTestDb, type TestDb } from "../support/app";

const ROOT = join(import.meta.dir, "../..");
const NODE = Bun.which("node");
const NPM = Bun.which("npm");

describe.skipIf(!NODE || !NPM)("npm link + aurum with only Node and npm installed", () => {
  const tmp = mkdtempSync(join(tmpdir(), "aurum-npm-link-"));
  const pkg = join(tmp, "pkg");
  const nodeBin = join(tmp, "node-bin");
  const prefix = join(tmp, "prefix");
  const home = join(tmp, "home");
  let db: TestDb;
  let server: ReturnType<typeof Bun.serve> | undefined;
  let link: { code: number; out: string };

  /** Asynchronous: the server answering the CLI runs in this process. */
  const run = async (cmd: string[], cwd: string, extra: Record<string, string> = {}) => {
    // Nothing of this machine's environment but what is named here.
    const proc = Bun.spawn(cmd, { cwd, env: { HOME: home, PATH: `${nodeBin}:${join(prefix, "bin")}`, ...extra }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    mkdirSync(pkg);
    mkdirSync(nodeBin);
    mkdirSync(home);
    // What an install needs: scripts/patch-dependencies.mjs is the package's postinstall.
    for (const f of ["package.json", "package-lock.json", "tsconfig.json", "bin", "src", "scripts/patch-dependencies.mjs"])
      cpSync(join(ROOT, f), join(pkg, f), { recursive: true });
    // Hard links: a copy in a second, and whatever npm does to it never reaches the shared tree.
    const cp = Bun.spawnSync(["cp", "-al", realpathSync(join(ROOT, "node_modules")), join(pkg, "node_modules")]);
    expect(cp.exitCode).toBe(0);
    symlinkSync(realpathSync(NODE as string), join(nodeBin, "node"));
    symlinkSync(realpathSync(NPM as string), join(nodeBin, "npm"));
    // npm runs the postinstall with a shell: the system's, named by path, so PATH stays node and npm only.
    const r = await run(["npm", "link", "--offline", "--no-audit", "--no-fund"], pkg, { npm_config_prefix: prefix, npm_config_script_shell: "/bin/sh" });
    link = { code: r.code, out: r.stdout + r.stderr };
    db = await createTestDb("postgres");
    const app = await buildApp(db);
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => app.handle(req) });
  }, 180_000);

  afterAll(async () => {
    server?.stop(true);
    await db?.drop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("npm link puts aurum in the prefix's bin, and no bun is on that PATH", async () => {
    expect(link).toMatchObject({ code: 0 });
    expect((await run(["node", "-e", "process.exit(require('fs').existsSync(process.argv[1]) ? 0 : 1)", join(prefix, "bin", "aurum")], tmp)).code).toBe(0);
    // Only node and npm are reachable: a shell lookup of bun fails on this PATH.
    for (const dir of [nodeBin, join(prefix, "bin")]) expect(Bun.which("bun", { PATH: dir })).toBeNull();
  });

  test("aurum --help and a real call run the CLI through Bun; exit codes pass through", async () => {
    const help = await run(["aurum", "--help"], tmp);
    expect(help.stderr).toBe("");
    expect(help.stdout).toContain("aurum: the command-line client of Aurum Scenarios");
    expect(help.code).toBe(0);
    const url = `http://127.0.0.1:${server?.port}`;
    const listed = await run(["aurum", "--url", url, "--tenant", "t-link", "--json", "scenarios", "list"], tmp);
    expect(listed).toMatchObject({ code: 0 });
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const missing = await run(["aurum", "--url", url, "--tenant", "t-link", "scenarios", "get", crypto.randomUUID()], tmp);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("NOT_FOUND");
    const usage = await run(["aurum", "no-such-command"], tmp);
    expect(usage.code).toBe(2);
  });

  test("without Bun in the package or on PATH, aurum exits 127 and says how to get it (negative case)", async () => {
    const bare = join(tmp, "bare");
    mkdirSync(bare);
    for (const f of ["package.json", "bin"]) cpSync(join(ROOT, f), join(bare, f), { recursive: true });
    const r = await run(["node", join(bare, "bin", "aurum.js"), "--help"], tmp);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain("aurum: Bun not found. It is a dependency of this package: run `npm install` in");
  });

  test("package.json names bin/aurum.js, a script Node runs (no TypeScript, a node shebang)", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(manifest.bin).toEqual({ aurum: "bin/aurum.js" });
    expect(readFileSync(join(ROOT, "bin/aurum.js"), "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });
});
