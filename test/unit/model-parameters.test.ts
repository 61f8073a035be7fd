/**
 * Run and scenario parameters the model reads: a bad value names what it must be. Elysia's
 * t.Integer is a union (it also takes integer strings), whose own error said only "Expected union
 * value" (`aurum run S --set mc_paths=0`).
 */
import { describe, expect, test } from "bun:test";
import { validateModelParameters } from "../../src/scenarios/drivers";

describe("validateModelParameters", () => {
  test("an integer out of range, or not a number, says which integers it takes", () => {
    expect(validateModelParameters({ mc_paths: 0 })).toEqual([{ field: "/parameters/mc_paths", location: "body", message: "must be an integer from 100 to 10000" }]);
    expect(validateModelParameters({ horizon_months: "abc" })).toEqual([{ field: "/parameters/horizon_months", location: "body", message: "must be an integer from 1 to 480" }]);
    for (const issue of validateModelParameters({ mc_paths: 1.5, seed: -1 })) expect(issue.message).not.toContain("union");
  });

  test("valid values and the user's own keys pass", () => {
    expect(validateModelParameters({ mc_paths: 500, horizon_months: 24, seed: 7, my_note: "x" })).toEqual([]);
  });

  test("other errors keep their own message", () => {
    expect(validateModelParameters({ band_quantiles: [0.5] })[0]?.message).toBe("Expected tuple to have 2 elements");
  });
});
