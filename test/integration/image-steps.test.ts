// The image's build and start steps without Docker (none runs here): the Dockerfile's own
// dependency install and COPY list, read from the file, run on a clean copy in a scratch folder;
// then its entry point runs `migrate` and `api` from there with the image's environment, the
// HEALTHCHECK command passes, and SIGTERM ends the API with exit 0.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { eventually } from "../support/eventually";
import { freePort } from "../support/redis";

const ROOT = join(import.meta.dir, "../..");

/** Instructions with continuation lines joined, per stage (`FROM ... AS name` starts one). */
function stages(path: string): Map<string, { op: string; args: string }[]> {
  const out = new Map<string, { op: string; args: string }[]>();
  let current: { op: string; args: string }[] = [];
  let pending = "";
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    pending += `${line.replace(/\\$/, "").trim()} `;
    if (line.endsWith("\\")) continue;
    const [op = "", ...rest] = pending.trim().split(/\s+/);
    pending = "";
    if (op.toUpperCase() === "FROM") {
      current = [];
      out.set(rest.at(-1) ?? "", current);
    }
    current.push({ op: op.toUpperCase(), args: rest.join(" ") });
  }
  return out;
}

const steps = stages(join(ROOT, "deploy/docker/Dockerfile"));
const deps = steps.get("deps") ?? [];
const runtime = steps.get("runtime") ?? [];

describe("the Dockerfile's steps on a clean copy, without Docker", () => {
  let scratch: string;
  let app: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "aurum-image-"));
    const build = join(scratch, "deps");
    app = join(scratch, "app");
    mkdirSync(build);
    mkdirSync(app);
    // deps stage: its COPY sources, then its RUN (the production install), as written.
    for (const s of deps.filter((s) => s.op === "COPY")) for (const src of s.args.split(/\s+/).slice(0, -1)) cpSync(join(ROOT, src), join(build, basename(src)));
    // Its commands but the last (mkdir -p /empty/data, the image's empty data folder, made below).
    const commands = (deps.find((s) => s.op === "RUN")?.args.split("&&") ?? []).map((c) => c.trim());
    expect(commands[0]).toStartWith("bun install --production --frozen-lockfile");
    expect(commands.at(-1)).toBe("mkdir -p /empty/data");
    const install = commands.slice(0, -1).join(" && ");
    const proc = Bun.spawn(["sh", "-c", install], { cwd: build, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`${install} failed (${code}):\n${err}`);
    // runtime stage: COPY from the repository (context) or from the deps stage, to the image's WORKDIR.
    for (const s of runtime.filter((s) => s.op === "COPY")) {
      const words = s.args.split(/\s+/).filter((w) => !w.startsWith("--chown="));
      const fromDeps = words[0]?.startsWith("--from=");
      const [dest, ...sources] = words.filter((w) => !w.startsWith("--from=")).reverse() as [string, ...string[]];
      for (const src of sources) {
        // From the deps stage: /app/node_modules is the install above; /empty/data becomes the data folder below.
        if (fromDeps) {
          if (src === "/app/node_modules") cpSync(join(build, "node_modules"), join(app, "node_modules"), { recursive: true });
          continue;
        }
        const target = dest.endsWith("/") ? join(app, dest, basename(src)) : join(app, dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(join(ROOT, src), target, { recursive: true });
      }
    }
    const imageEnv = Object.fromEntries(
      runtime
        .filter((s) => s.op === "ENV")
        .flatMap((s) => s.args.split(/\s+/))
        .map((kv) => kv.split("=") as [string, string]),
    );
    mkdirSync(join(scratch, "data"));
    mkdirSync(join(scratch, "tmp"));
    env = {
      PATH: process.env.PATH ?? "",
      ...imageEnv,
      AURUM_DATA_DIR: join(scratch, "data"),
      TMPDIR: join(scratch, "tmp"),
      // A fixed port, not 0: the HEALTHCHECK command reads it from the environment.
      AURUM_API_PORT: String(await freePort()),
      AURUM_API_HOST: "127.0.0.1",
      AURUM_API_AUTH_DISABLED: "1",
      AURUM_LOG_LEVEL: "warn",
    };
  }, 180_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test("the copy holds exactly what the image needs: no tests, no dev dependencies", () => {
    expect(existsSync(join(app, "src/main.ts"))).toBe(true);
    expect(existsSync(join(app, "ddl/postgres"))).toBe(true);
    expect(existsSync(join(app, "node_modules/elysia"))).toBe(true);
    expect(existsSync(join(app, "test"))).toBe(false);
    expect(existsSync(join(app, "node_modules/@biomejs"))).toBe(false);
    expect(existsSync(join(app, "node_modules/playwright-core"))).toBe(false);
    // The install skips this package's postinstall (--ignore-scripts); the image patches postgres.js itself.
    expect(readFileSync(join(app, "node_modules/postgres/src/connection.js"), "utf8")).toContain("/* aurum patch:");
  });

  test("the entry point runs migrate, then api: /healthz, the HEALTHCHECK command, SIGTERM → exit 0", async () => {
    const entry = JSON.parse(runtime.find((s) => s.op === "ENTRYPOINT")?.args ?? "[]") as string[];
    expect(entry.slice(1)).toEqual(["src/main.ts"]);
    const run = (verb: string) => Bun.spawn([process.execPath, "src/main.ts", verb], { cwd: app, env, stdout: "pipe", stderr: "pipe" });

    const migrate = run("migrate");
    expect(await migrate.exited).toBe(0);

    const api = run("api");
    const base = `http://127.0.0.1:${env.AURUM_API_PORT}`;
    await eventually(() => fetch(`${base}/healthz`).then((r) => r.ok), { what: "the image's API to answer /healthz", intervalMs: 100 });
    const created = await fetch(`${base}/v1/scenarios`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-aurum-tenant": "t-image" },
      body: JSON.stringify({ name: "from the image" }),
    });
    expect(created.status).toBe(201);

    const check = JSON.parse(runtime.find((s) => s.op === "HEALTHCHECK")?.args.replace(/^.*CMD\s+/, "") ?? "[]") as string[];
    const health = Bun.spawn([process.execPath, ...check.slice(1).map((a) => a.replace(/^\/app\//, `${app}/`))], { cwd: app, env, stdout: "pipe", stderr: "pipe" });
    expect(await health.exited).toBe(0);

    api.kill("SIGTERM");
    expect(await api.exited).toBe(0);
  }, 120_000);
});
