/** The CLI's human-readable records: nested values as indented blocks, numbers rounded for display, fractions as percentages. */
import { describe, expect, test } from "bun:test";
import { num, percent, renderFields } from "../../../src/cli/print";

describe("renderFields", () => {
  const scenario = {
    id: "6d12dd93-4355-44c1-8ee2-dbe3545a7321",
    name: "RPS 60",
    tags: ["policy", "pjm"],
    parameters: { mc_paths: 500, discount_rate: 0.0812345678, band_quantiles: [0.05, 0.95] },
    assumptions: [
      { driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6 } },
      { driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: 6212.3634925240685 } },
    ],
    description: null,
    empty: {},
  };

  test("lists of objects and nested objects as indented blocks, never [object Object]", () => {
    const out = renderFields(scenario);
    expect(out).not.toContain("[object Object]");
    expect(out).toBe(
      [
        "id:          6d12dd93-4355-44c1-8ee2-dbe3545a7321",
        "name:        RPS 60",
        "tags:        policy, pjm",
        "parameters:",
        "  mc_paths: 500",
        "  discount_rate: 0.0812346",
        "  band_quantiles: 0.05, 0.95",
        "assumptions:",
        "  - driver_type: policy",
        "    payload:",
        "      policy_name: RPS",
        "      start_year: 2030",
        "      target: 0.6",
        "  - driver_type: fuel_curve",
        "    payload:",
        "      fuel: natural_gas",
        "      reference_series: HH_GAS",
        "      basis_points_adjustment: 6212.36",
        "description: -",
        "empty:       {}",
        "",
      ].join("\n"),
    );
  });

  test("a field format wins over the plain value; keys pick and order the fields", () => {
    expect(renderFields({ state: "RUNNING", progress: 0.4567 }, ["progress", "state"], { progress: percent })).toBe("progress: 45%\nstate:    RUNNING\n");
  });
});

describe("numbers for display", () => {
  test("6 significant digits; integers, huge and non-finite values as they are", () => {
    expect(num(6212.3634925240685)).toBe("6212.36");
    expect(num(0.000123456789)).toBe("0.000123457");
    expect(num(1_000_000)).toBe("1000000");
    expect(num(-0.5)).toBe("-0.5");
    expect(num(Number.NaN)).toBe("NaN");
    expect(percent(0.999)).toBe("99%");
    expect(percent(1)).toBe("100%");
    expect(percent(null)).toBe("-");
  });
});
