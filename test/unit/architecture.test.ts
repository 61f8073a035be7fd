/**
 * The import rules of .dependency-cruiser.cjs hold for src/ (the engine imports only itself, drivers
 * and sockets only in src/adapters/, repositories built only by createMetadata, no cycles, nothing
 * unresolvable), and each rule reports a
 * violation planted in a scratch tree, so the check can fail.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { cruise, type IConfiguration, type ICruiseResult } from "dependency-cruiser";

const ROOT = resolve(import.meta.dir, "../..");
const config = createRequire(import.meta.url)(join(ROOT, ".dependency-cruiser.cjs")) as IConfiguration;

/** The rule violations of a cruise of `baseDir`/src, as "rule: from → to". */
async function violations(baseDir: string): Promise<string[]> {
  const { output } = await cruise(["src"], { ...config.options, ruleSet: config, validate: true, baseDir });
  const result = output as ICruiseResult;
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe("import rules", () => {
  test("src/ has no violation", async () => {
    expect(await violations(ROOT)).toEqual([]);
  }, 120_000);

  describe("a planted violation of each rule is reported (negative cases)", () => {
    let dir = "";
    let found: string[] = [];
    const plant = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "aurum-import-rules-"));
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
      plant("src/platform/clock.ts", "export const now = () => Date.now();\n");
      plant("src/engine/model.ts", 'import { now } from "../platform/clock";\nimport { sum } from "./math";\nexport const run = () => sum(now());\n');
      plant("src/engine/math.ts", "export const sum = (n: number) => n + 1;\n");
      plant("src/outputs/reader.ts", 'import postgres from "postgres";\nexport const sql = postgres();\n');
      plant("src/runs/relay.ts", 'import type { Counter } from "prom-client";\nexport type C = Counter;\n');
      plant("src/cache/store.ts", 'import { RedisClient } from "bun";\nexport const redis = new RedisClient();\n');
      plant("src/outputs/wire.ts", 'import { connect } from "node:net";\nexport const open = connect;\n');
      plant("src/adapters/postgres.ts", 'import postgres from "postgres";\nimport { connect } from "node:net";\nexport const sql = postgres();\nexport const open = connect;\n');
      plant("src/flags/model.ts", 'import { LIMIT } from "../outputs/model";\nexport const FLAG = LIMIT;\n');
      plant("src/outputs/model.ts", 'import { FLAG } from "../flags/model";\nexport const LIMIT = 100;\nexport const f = () => FLAG;\n');
      plant("src/scenarios/typo.ts", 'import { x } from "./no-such-module";\nexport const y = x;\n');
      plant("src/runs/repo.ts", "export const createRunRepo = (sql: unknown) => ({ sql });\nexport type RunRepo = ReturnType<typeof createRunRepo>;\n");
      plant("src/metadata.ts", 'import { createRunRepo } from "./runs/repo";\nexport const createMetadata = (sql: unknown) => ({ runs: createRunRepo(sql) });\n');
      plant("src/outputs/store.ts", 'import { createRunRepo } from "../runs/repo";\nexport const runsOf = (sql: unknown) => createRunRepo(sql);\n');
      plant("src/worker/claims.ts", 'import type { RunRepo } from "../runs/repo";\nexport const claim = (runs: RunRepo) => runs;\n');
      found = await violations(dir);
    }, 120_000);
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("the engine importing outside itself", () => {
      expect(found).toContain("engine-is-pure: src/engine/model.ts → src/platform/clock.ts");
      expect(found.filter((v) => v.includes("src/engine/math.ts"))).toEqual([]);
    });

    test("a driver outside src/adapters/, type-only imports and Bun's clients included", () => {
      const drivers = found.filter((v) => v.startsWith("drivers-only-in-adapters:")).map((v) => v.split(" → ")[0]);
      expect(drivers.sort()).toEqual([
        "drivers-only-in-adapters: src/cache/store.ts",
        "drivers-only-in-adapters: src/outputs/reader.ts",
        "drivers-only-in-adapters: src/runs/relay.ts",
      ]);
    });

    test("a socket outside src/adapters/", () => {
      expect(found).toContain("sockets-only-in-adapters: src/outputs/wire.ts → net");
    });

    test("an import cycle", () => {
      expect(found.some((v) => v.startsWith("no-circular: src/flags/model.ts → ") || v.startsWith("no-circular: src/outputs/model.ts → "))).toBe(true);
    });

    test("an import nothing resolves", () => {
      expect(found).toContain("not-to-unresolvable: src/scenarios/typo.ts → ./no-such-module");
    });

    test("a repository built anywhere but createMetadata; its types may be imported anywhere", () => {
      expect(found.filter((v) => v.startsWith("repositories-built-once:"))).toEqual(["repositories-built-once: src/outputs/store.ts → src/runs/repo.ts"]);
    });

    test("adapters may import drivers and sockets", () => {
      expect(found.filter((v) => v.includes("src/adapters/"))).toEqual([]);
    });
  });
});
