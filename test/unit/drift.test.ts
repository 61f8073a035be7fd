/** Generated documents stay true to the code: docs/configuration.md, the OpenAPI spec, and env names used in src/. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_DOC_PATH, renderConfigDoc } from "../../scripts/config-docs";
import { OPENAPI_PATH } from "../../scripts/openapi";
import { SETTINGS } from "../../src/config";

describe("drift", () => {
  test("docs/configuration.md matches the settings in src/config.ts (run `npm run docs:config`)", () => {
    expect(readFileSync(CONFIG_DOC_PATH, "utf8")).toBe(renderConfigDoc());
  });

  test("docs/api/openapi-spec.yaml matches the routes (run `npm run openapi`)", async () => {
    // A fresh process: Elysia normalises shared TypeBox schemas in place when an app is built, so
    // a document rendered after other tests built apps can differ from the generator's.
    const proc = Bun.spawnSync(["bun", join(import.meta.dir, "../../scripts/openapi.ts")], { stderr: "inherit" });
    expect(proc.exitCode).toBe(0);
    expect(readFileSync(OPENAPI_PATH, "utf8")).toBe(proc.stdout.toString());
  });

  test("the OpenAPI version is semantic", async () => {
    expect(readFileSync(OPENAPI_PATH, "utf8")).toMatch(/\n {2}version: \d+\.\d+\.\d+\n/);
  });

  // The CLI (src/cli) is a client with its own variables (AURUM_URL, AURUM_TOKEN, AURUM_TENANT),
  // documented in docs/cli.md; every other file is the service.
  test("every AURUM_ variable named in src/ (outside the CLI) is a declared setting", () => {
    const declared = new Set(Object.values(SETTINGS).map((s) => s.env));
    const root = join(import.meta.dir, "../../src");
    const files = readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith(".ts") && !String(f).startsWith("cli/"));
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(join(root, String(f)), "utf8").matchAll(/\bAURUM_[A-Z0-9_]+/g)) used.add(m[0]);
    expect([...used].filter((n) => !declared.has(n))).toEqual([]);
  });

  test("the CLI's own variables are documented in docs/cli.md", () => {
    const root = join(import.meta.dir, "../..");
    const cli = readdirSync(join(root, "src/cli")).filter((f) => f.endsWith(".ts"));
    const doc = readFileSync(join(root, "docs/cli.md"), "utf8");
    const used = new Set(cli.flatMap((f) => [...readFileSync(join(root, "src/cli", f), "utf8").matchAll(/\bAURUM_[A-Z0-9_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(0);
    expect([...used].filter((n) => !doc.includes(n))).toEqual([]);
  });
});
