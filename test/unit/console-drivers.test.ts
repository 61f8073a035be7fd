/** Attribution keys named by what the driver is (the console's bars and tooltips). */
import { describe, expect, test } from "bun:test";
import { driverLabel } from "../../src/console/client/drivers";

const assumptions = [
  { driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6, region: "NJ" } },
  { driver_type: "policy", payload: { policy_name: "CARBON_TAX", start_year: 2027, target: 20 } },
  { driver_type: "load_growth", payload: { annual_growth_pct: 1.5, start_year: 2026, end_year: 2030 } },
  { driver_type: "fuel_curve", payload: { fuel: "natural_gas", reference_series: "HH_GAS", basis_points_adjustment: -250 } },
  { driver_type: "fleet_change", payload: { fleet_id: "f1", change_type: "RETIREMENT", effective_date: "2028-06-01", capacity_mw: 1200, technology: "coal" } },
];

describe("driverLabel", () => {
  test("each driver type by its key payload", () => {
    expect(driverLabel("policy:0", assumptions)).toBe("RPS 60 % from 2030 (NJ)");
    expect(driverLabel("policy:1", assumptions)).toBe("CARBON_TAX $20/t from 2027");
    expect(driverLabel("load_growth:2", assumptions)).toBe("Load growth 1.5 %/yr from 2026 to 2030");
    expect(driverLabel("fuel_curve:3", assumptions)).toBe("natural_gas -250 bp");
    expect(driverLabel("fleet_change:4", assumptions)).toBe("RETIREMENT 1,200 MW coal from 2028-06-01");
  });

  test("a key that does not match the run's assumptions stays as it is", () => {
    expect(driverLabel("policy:2", assumptions)).toBe("policy:2");
    expect(driverLabel("policy:9", assumptions)).toBe("policy:9");
    expect(driverLabel("policy:0", undefined)).toBe("policy:0");
  });
});
