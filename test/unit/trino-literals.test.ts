// Trino SQL literals: every value is written so Trino reads back exactly what was meant, and a value
// that cannot be written exactly is refused. (The integration test test/integration/trino-client.test.ts
// sends the same literals through a real Trino.)
import { describe, expect, test } from "bun:test";
import { bigintLiteral, booleanLiteral, dateLiteral, doubleLiteral, quoteIdentifier, timestampTzLiteral, varcharLiteral } from "../../src/adapters/trino-literals";

describe("varcharLiteral", () => {
  test("doubles single quotes and leaves everything else as it is (no backslash escapes in Trino)", () => {
    expect(varcharLiteral("it's")).toBe("'it''s'");
    expect(varcharLiteral("''")).toBe("''''''");
    expect(varcharLiteral("a\\b\tc\nd\re")).toBe("'a\\b\tc\nd\re'");
    expect(varcharLiteral("'; DROP TABLE x; --")).toBe("'''; DROP TABLE x; --'");
    expect(varcharLiteral("ünïcødé ⚡ 😀")).toBe("'ünïcødé ⚡ 😀'");
    expect(varcharLiteral("")).toBe("''");
  });

  test("null and undefined are NULL", () => {
    expect(varcharLiteral(null)).toBe("NULL");
    expect(varcharLiteral(undefined)).toBe("NULL");
  });

  test("refuses a lone surrogate, which UTF-8 cannot carry", () => {
    expect(() => varcharLiteral("a\uD800b")).toThrow(RangeError);
    expect(() => varcharLiteral("\uDC00")).toThrow(RangeError);
    expect(varcharLiteral("\uD83D\uDE00")).toBe("'😀'");
  });
});

describe("doubleLiteral", () => {
  test("always carries an exponent, so Trino reads a DOUBLE and not a DECIMAL", () => {
    expect(doubleLiteral(0.1)).toBe("0.1E0");
    expect(doubleLiteral(123)).toBe("123E0");
    expect(doubleLiteral(-123456.789012345)).toBe("-123456.789012345E0");
    expect(doubleLiteral(1e21)).toBe("1E+21");
    expect(doubleLiteral(1.5e-7)).toBe("1.5E-7");
    expect(doubleLiteral(5e-324)).toBe("5E-324");
    expect(doubleLiteral(Number.MAX_VALUE)).toBe("1.7976931348623157E+308");
  });

  test("spells the values SQL has no literal for as functions, and keeps the sign of zero", () => {
    expect(doubleLiteral(Number.NaN)).toBe("nan()");
    expect(doubleLiteral(Number.POSITIVE_INFINITY)).toBe("infinity()");
    expect(doubleLiteral(Number.NEGATIVE_INFINITY)).toBe("-infinity()");
    expect(doubleLiteral(-0)).toBe("-0E0");
    expect(doubleLiteral(0)).toBe("0E0");
    expect(doubleLiteral(null)).toBe("NULL");
  });

  test("round-trips every bit: 20,000 random bit patterns parse back to the same double", () => {
    const view = new DataView(new ArrayBuffer(8));
    let seed = 42;
    const next32 = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    for (let i = 0; i < 20_000; i++) {
      view.setUint32(0, next32());
      view.setUint32(4, next32());
      const x = view.getFloat64(0);
      if (!Number.isFinite(x)) continue;
      expect(Object.is(Number(doubleLiteral(x)), x)).toBe(true);
    }
  });
});

describe("dateLiteral", () => {
  test("writes DATE 'YYYY-MM-DD' for a real calendar date", () => {
    expect(dateLiteral("2026-01-02")).toBe("DATE '2026-01-02'");
    expect(dateLiteral("2024-02-29")).toBe("DATE '2024-02-29'");
    expect(dateLiteral(null)).toBe("NULL");
  });

  test("refuses anything else", () => {
    for (const bad of ["2026-02-29", "2026-13-01", "2026-00-10", "2026-1-2", "20260102", "2026-01-02T00:00:00Z", "2026-01-02' OR 1=1 --", ""]) {
      expect(() => dateLiteral(bad)).toThrow(RangeError);
    }
  });
});

describe("timestampTzLiteral", () => {
  test("keeps the instant's digits and zone", () => {
    expect(timestampTzLiteral("2026-01-02T03:04:05.678Z")).toBe("TIMESTAMP '2026-01-02 03:04:05.678 UTC'");
    expect(timestampTzLiteral("2026-01-02T03:04:05.123456Z")).toBe("TIMESTAMP '2026-01-02 03:04:05.123456 UTC'");
    expect(timestampTzLiteral("2026-01-02T03:04:05+01:00")).toBe("TIMESTAMP '2026-01-02 03:04:05 +01:00'");
    expect(timestampTzLiteral(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe("TIMESTAMP '2026-01-02 03:04:05.006 UTC'");
    expect(timestampTzLiteral(undefined)).toBe("NULL");
  });

  test("refuses a timestamp without a zone, or one that is not a date", () => {
    for (const bad of ["2026-01-02T03:04:05", "2026-01-02", "2026-02-30T00:00:00Z", "yesterday", "2026-01-02T03:04:05Z' --"]) {
      expect(() => timestampTzLiteral(bad)).toThrow(RangeError);
    }
  });
});

describe("bigint, boolean, identifier", () => {
  test("bigint covers the whole BIGINT range and refuses what would round", () => {
    expect(bigintLiteral(42)).toBe("BIGINT '42'");
    expect(bigintLiteral(-9223372036854775808n)).toBe("BIGINT '-9223372036854775808'");
    expect(() => bigintLiteral(9223372036854775808n)).toThrow(RangeError);
    expect(() => bigintLiteral(2 ** 53)).toThrow(RangeError);
    expect(() => bigintLiteral(1.5)).toThrow(RangeError);
    expect(bigintLiteral(null)).toBe("NULL");
  });

  test("booleans and quoted identifiers", () => {
    expect(booleanLiteral(true)).toBe("true");
    expect(booleanLiteral(false)).toBe("false");
    expect(booleanLiteral(null)).toBe("NULL");
    expect(quoteIdentifier("scenario_output")).toBe('"scenario_output"');
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
    expect(() => quoteIdentifier("")).toThrow(RangeError);
  });
});
