/**
 * Issue 18, item 13: `bun src/main.ts api` with no token verifier (or `start` with auth explicitly
 * off... then on: AURUM_API_AUTH_DISABLED=0 and no key) opened the data, ran the migrations and
 * died with a stack trace, exit 1. docs/configuration.md promises one line and exit 78.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, runToExit } from "./spawn";

const base = mkdtempSync(join(tmpdir(), "aurum-refused-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const cases: [string, string, Record<string, string>, RegExp][] = [
  ["api with no verifier", "api", {}, /no token verifier is configured.*AURUM_API_AUTH_JWKS_URL/],
  ["start with AURUM_API_AUTH_DISABLED=0 and no verifier", "start", { AURUM_API_AUTH_DISABLED: "0" }, /no token verifier is configured/],
  ["start with AURUM_API_AUTH_DISABLED empty and no verifier", "start", { AURUM_API_AUTH_DISABLED: "" }, /no token verifier is configured/],
  ["api with a public key that is not PEM", "api", { AURUM_API_AUTH_PUBLIC_KEY: "not a key" }, /AURUM_API_AUTH_PUBLIC_KEY.*PEM/],
];

describe("a start refused for its configuration", () => {
  for (const [name, verb, extra, expected] of cases) {
    test(`${name}: one line on stderr, exit 78, no data opened`, async () => {
      const dir = join(base, name.replace(/\W+/g, "-"));
      const r = await runToExit(verb, cleanEnv({ AURUM_DATA_DIR: dir, AURUM_API_PORT: "0", ...extra }));
      expect(r.code).toBe(78);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).not.toContain("migrations_applied");
      expect(existsSync(dir)).toBe(false);
    });
  }
});
