/** Config parsing: defaults, fallbacks, frozen result, and errors that name the variable. */
import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, SETTINGS } from "../../src/config";

describe("loadConfig", () => {
  test("defaults give the embedded local service on port 8095", () => {
    const c = loadConfig({});
    expect(c.port).toBe(8095);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe("./.aurum");
    expect(c.authDisabled).toBe(false);
    expect(c.jwtAlgorithms).toEqual(["RS256", "ES256"]);
  });

  test("AURUM_APP_DB_DSN wins over AURUM_TIMESCALE_DSN, which is the fallback", () => {
    expect(loadConfig({ AURUM_TIMESCALE_DSN: "postgres://ts/db" }).databaseUrl).toBe("postgres://ts/db");
    expect(loadConfig({ AURUM_APP_DB_DSN: "postgres://app/db", AURUM_TIMESCALE_DSN: "postgres://ts/db" }).databaseUrl).toBe("postgres://app/db");
  });

  test("the result is frozen", () => {
    const c = loadConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.jwtAlgorithms)).toBe(true);
  });

  test("booleans accept the usual spellings", () => {
    for (const v of ["1", "true", "YES", "on"]) expect(loadConfig({ AURUM_API_AUTH_DISABLED: v }).authDisabled).toBe(true);
    for (const v of ["0", "false", "no", "off"]) expect(loadConfig({ AURUM_API_AUTH_DISABLED: v }).authDisabled).toBe(false);
  });

  const bad: [string, string, string][] = [
    ["AURUM_API_PORT", "eighty", "an integer from 0 to 65535"],
    ["AURUM_API_PORT", "70000", "an integer from 0 to 65535"],
    ["AURUM_API_AUTH_DISABLED", "maybe", "a boolean"],
    ["AURUM_LOG_LEVEL", "loud", "one of debug, info, warn, error, silent"],
    ["AURUM_APP_DB_DSN", "mysql://x/y", "a URL (postgres:, postgresql:)"],
    ["AURUM_API_AUTH_JWKS_URL", "not a url", "a URL"],
    ["AURUM_API_AUTH_ROLE_PERMISSIONS", "{broken", "a JSON object"],
    ["AURUM_API_AUTH_ALGORITHMS", "RS256,none", "must not contain none"],
  ];
  for (const [name, value, expects] of bad) {
    test(`${name}=${value} stops start-up with a message naming it`, () => {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(name);
      expect(() => loadConfig({ [name]: value })).toThrow(expects);
    });
  }

  test("every problem is reported at once", () => {
    try {
      loadConfig({ AURUM_API_PORT: "x", AURUM_LOG_LEVEL: "y" });
      throw new Error("no error");
    } catch (err) {
      expect((err as Error).message).toContain("AURUM_API_PORT");
      expect((err as Error).message).toContain("AURUM_LOG_LEVEL");
    }
  });

  test("the Iceberg output store needs Trino and a server Postgres", () => {
    expect(() => loadConfig({ AURUM_OUTPUT_STORE: "trino" })).toThrow("AURUM_OUTPUT_STORE=trino needs AURUM_TRINO_URL");
    expect(() => loadConfig({ AURUM_OUTPUT_STORE: "trino", AURUM_TRINO_URL: "http://t:8080" })).toThrow("needs a server Postgres (AURUM_APP_DB_DSN)");
    expect(loadConfig({ AURUM_OUTPUT_STORE: "trino", AURUM_TRINO_URL: "http://t:8080", AURUM_TIMESCALE_DSN: "postgres://x/y" }).outputStore).toBe("trino");
  });

  test("every setting is an AURUM_ variable, each named once", () => {
    const names = Object.values(SETTINGS).map((s) => s.env);
    expect(names.every((n) => n.startsWith("AURUM_"))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });
});
