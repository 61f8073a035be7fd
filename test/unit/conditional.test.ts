/** RFC 9110 §13.1 entity-tag lists and comparisons (src/platform/conditional.ts). */
import { describe, expect, test } from "bun:test";
import { ifMatchHolds, ifNoneMatchHolds, parseTagCondition } from "../../src/platform/conditional";

describe("entity-tag conditions", () => {
  test("parses *, lists, weak tags and quoted commas", () => {
    expect(parseTagCondition(" * ")).toEqual({ any: true });
    expect(parseTagCondition('"a", W/"b",,"c,d"')).toEqual({
      any: false,
      tags: [
        { weak: false, opaque: '"a"' },
        { weak: true, opaque: '"b"' },
        { weak: false, opaque: '"c,d"' },
      ],
    });
  });

  test("malformed values are invalid, never a match", () => {
    for (const bad of ["", "a", '"a', '"a" "b"', "W/a", '*, "a"', ","]) {
      const c = parseTagCondition(bad);
      expect(c).toEqual({ invalid: true });
      expect(ifMatchHolds(c, '"a"')).toBe(false);
      expect(ifNoneMatchHolds(c, '"a"')).toBe(false);
    }
  });

  test("If-Match compares strongly: a weak tag never matches", () => {
    expect(ifMatchHolds(parseTagCondition('"v0", "v1"'), '"v1"')).toBe(true);
    expect(ifMatchHolds(parseTagCondition('W/"v1"'), '"v1"')).toBe(false);
    expect(ifMatchHolds(parseTagCondition("*"), '"v1"')).toBe(true);
    expect(ifMatchHolds(parseTagCondition("*"), undefined)).toBe(false);
    expect(ifMatchHolds(parseTagCondition('"v1"'), undefined)).toBe(false);
  });

  test("If-None-Match compares weakly", () => {
    expect(ifNoneMatchHolds(parseTagCondition('W/"v1"'), '"v1"')).toBe(false);
    expect(ifNoneMatchHolds(parseTagCondition('"v0"'), '"v1"')).toBe(true);
    expect(ifNoneMatchHolds(parseTagCondition("*"), '"v1"')).toBe(false);
    expect(ifNoneMatchHolds(parseTagCondition("*"), undefined)).toBe(true);
  });
});
