/**
 * Issue 18, item 12 (local mode exposure): `npm start` listened on all interfaces; `start` fell back
 * to the auth-less local mode when the key setting was empty or misspelled; `api` with auth disabled
 * logged no warning; AURUM_API_AUTH_DISABLED=yes silently overrode a configured key; misspelled
 * AURUM_* variables went unnoticed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { unknownVariables } from "../../src/config";
import { createTestDb, type TestDb } from "../support/app";
import { checkedFetch } from "../support/contract";
import { pgliteFromTemplate } from "../support/templates";
import { cleanEnv, type Running, runToExit, startListening } from "./spawn";

/** Every response of the real process is checked against the OpenAPI document (test/support/contract.ts). */
const fetch = checkedFetch;

const PEM = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();

/** A non-loopback address of this machine, if it has one. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

const events = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("local mode", () => {
  const dir = mkdtempSync(join(tmpdir(), "aurum-local-"));
  let templateCopy = "";
  const running: Running[] = [];
  let db: TestDb | undefined;
  afterAll(async () => {
    for (const r of running) r.proc.kill("SIGKILL");
    await db?.drop();
    for (const d of [dir, templateCopy]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test("`start` without AURUM_API_HOST listens on loopback only, warns that auth is off, and reports a misspelled variable", async () => {
    // A copy of the migrated PGlite template: the warnings are under test, not initdb (server.test.ts starts on an empty folder).
    templateCopy = await pgliteFromTemplate();
    const s = await startListening("start", cleanEnv({ AURUM_DATA_DIR: templateCopy, AURUM_LOG_LEVLE: "debug" }), 100_000);
    running.push(s);
    const url = new URL(s.url);
    expect(url.hostname).toBe("127.0.0.1");
    expect((await fetch(`http://127.0.0.1:${url.port}/healthz`)).status).toBe(200);
    if (external) {
      const reached = await fetch(`http://${external}:${url.port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        () => true,
        () => false,
      );
      expect(reached).toBe(false);
    }
    const logged = events(s.output());
    expect(logged.find((e) => e.event === "auth_disabled")?.level).toBe("warn");
    expect(logged.find((e) => e.event === "unknown_setting")).toMatchObject({ level: "warn", variable: "AURUM_LOG_LEVLE", did_you_mean: "AURUM_LOG_LEVEL" });
  }, 120_000);

  test("`api` with AURUM_API_AUTH_DISABLED=1 warns and binds loopback; with a verifier it binds all interfaces", async () => {
    db = await createTestDb("postgres");
    const local = await startListening("api", cleanEnv({ AURUM_APP_DB_DSN: db.url, AURUM_API_AUTH_DISABLED: "1" }));
    running.push(local);
    expect(new URL(local.url).hostname).toBe("127.0.0.1");
    expect(events(local.output()).find((e) => e.event === "auth_disabled")?.level).toBe("warn");

    const jwt = await startListening("api", cleanEnv({ AURUM_APP_DB_DSN: db.url, AURUM_API_AUTH_PUBLIC_KEY: PEM }));
    running.push(jwt);
    expect(new URL(jwt.url).hostname).toBe("0.0.0.0");
    expect(events(jwt.output()).some((e) => e.event === "auth_disabled")).toBe(false);
    // …and it does authenticate.
    expect((await fetch(`http://127.0.0.1:${new URL(jwt.url).port}/v1/scenarios`)).status).toBe(401);
  }, 120_000);

  test.each([
    ["start, the key setting empty", "start", { AURUM_API_AUTH_PUBLIC_KEY: "" }, /AURUM_API_AUTH_PUBLIC_KEY is set but empty.*will not fall back/],
    ["start, the JWKS setting empty", "start", { AURUM_API_AUTH_JWKS_URL: "" }, /AURUM_API_AUTH_JWKS_URL is set but empty/],
    ["start, the key setting misspelled", "start", { AURUM_API_AUTH_PUBLIC_KY: PEM }, /AURUM_API_AUTH_PUBLIC_KY is not a setting \(did you mean AURUM_API_AUTH_PUBLIC_KEY\?\)/],
    ["start, the JWKS setting misspelled", "start", { AURUM_API_AUTH_JWKS_ULR: "https://issuer.example/jwks" }, /did you mean AURUM_API_AUTH_JWKS_URL/],
    [
      "start, AURUM_API_AUTH_DISABLED=yes beside a public key",
      "start",
      { AURUM_API_AUTH_DISABLED: "yes", AURUM_API_AUTH_PUBLIC_KEY: PEM },
      /AURUM_API_AUTH_DISABLED turns authentication off, but AURUM_API_AUTH_PUBLIC_KEY/,
    ],
    [
      "api, AURUM_API_AUTH_DISABLED=yes beside a JWKS URL",
      "api",
      { AURUM_API_AUTH_DISABLED: "yes", AURUM_API_AUTH_JWKS_URL: "https://issuer.example/jwks" },
      /AURUM_API_AUTH_DISABLED turns authentication off, but AURUM_API_AUTH_JWKS_URL/,
    ],
  ] as [string, string, Record<string, string>, RegExp][])("%s: refused, exit 78, one line", async (_name, verb, extra, expected) => {
    const r = await runToExit(verb, cleanEnv({ AURUM_DATA_DIR: join(dir, "refused"), AURUM_API_PORT: "0", ...extra }));
    expect(r.code).toBe(78);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(expected);
    expect(r.stdout).not.toContain('"event":"listening"');
  });
});

describe("unknownVariables", () => {
  test("names AURUM_* variables no setting reads, with the closest known name when it is near", () => {
    expect(
      unknownVariables({
        AURUM_API_PORT: "1",
        AURUM_API_PROT: "1",
        AURUM_REDIS_ULR: "x",
        AURUM_SOMETHING_ELSE_ENTIRELY: "x",
        AURUM_URL: "cli",
        AURUM_TOKEN: "cli",
        AURUM_TEST_PG_URL: "tests",
        PATH: "/bin",
      }),
    ).toEqual([
      { name: "AURUM_API_PROT", suggestion: "AURUM_API_PORT" },
      { name: "AURUM_REDIS_ULR", suggestion: "AURUM_REDIS_URL" },
      { name: "AURUM_SOMETHING_ELSE_ENTIRELY", suggestion: undefined },
    ]);
  });
});
