/** The policy names and technologies the scenarios API allows are exactly those the engine has parameters for. */
import { describe, expect, test } from "bun:test";
import { buildDriverPlans } from "../../../src/engine/effects";
import { CAPACITY_CREDIT, capacityCredit, knownCapacityCredit, POLICY_NAMES, TECHNOLOGY_KEYWORDS, technologyKind } from "../../../src/engine/params";

const H = 24;
const h0 = 2030 * 12;
const policyPlan = (policy_name: string) =>
  buildDriverPlans([{ driver_type: "policy", policy_name, start_year: 2030, target: policy_name === "CARBON_TAX" ? 40 : 0.6 }], h0, H, new Map())[0]!;

describe("POLICY_NAMES", () => {
  for (const name of POLICY_NAMES) {
    test(`${name} feeds the stack`, () => {
      const p = policyPlan(name);
      expect(p.group).toBeGreaterThanOrEqual(0);
      expect(p.input.some((v) => v !== 0)).toBe(true);
    });
  }
  test("any other name has no effect (which is why the API refuses it)", () => {
    for (const name of ["RGGI", "CAP_AND_TRADE", "OTHER"]) {
      const p = policyPlan(name);
      expect(p.group).toBe(-1);
      expect(p.input.every((v) => v === 0)).toBe(true);
    }
  });
});

describe("technologies", () => {
  test("every keyword is known, with the credit of its table row", () => {
    expect(TECHNOLOGY_KEYWORDS).toEqual(CAPACITY_CREDIT.map(([k]) => k));
    for (const [k, credit] of CAPACITY_CREDIT) expect(knownCapacityCredit(k.toUpperCase())).toBe(credit);
  });
  test("the credits of the renewable keywords are unchanged; thermal keywords are firm", () => {
    expect(["Solar PV", "offshore_wind", "battery", "pumped_storage", "run_of_river_hydro", "nuclear"].map(capacityCredit)).toEqual([0.25, 0.35, 0.5, 0.5, 0.45, 0.9]);
    expect(["gas_cc", "CCGT", "coal", "oil_ct", "geothermal", "biomass"].map(capacityCredit)).toEqual([1, 1, 1, 1, 1, 1]);
  });
  test("solar, wind, hydro and nuclear add zero-cost energy; everything else dispatchable capacity", () => {
    expect(["Solar PV", "offshore_wind", "run_of_river_hydro", "nuclear"].map((t) => technologyKind(t).kind)).toEqual(["energy", "energy", "energy", "energy"]);
    expect(technologyKind("nuclear")).toMatchObject({ renewable: false });
    expect(technologyKind("wind")).toMatchObject({ renewable: true });
    expect(["gas_cc", "battery", "pumped_storage", "coal", "fusion", undefined].map((t) => technologyKind(t).kind)).toEqual(Array(6).fill("capacity"));
    expect(technologyKind("battery")).toEqual({ kind: "capacity", credit: 0.5 });
  });
  test("an unknown technology is not known, and the engine still treats it (and none) as firm", () => {
    expect(knownCapacityCredit("fusion")).toBeUndefined();
    expect(capacityCredit("fusion")).toBe(1);
    expect(capacityCredit(undefined)).toBe(1);
  });
});
