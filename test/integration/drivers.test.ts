/** Driver payloads and model parameters are validated at POST/PATCH /v1/scenarios, naming the field. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { buildApp, call, createTestDb, type TestDb } from "../support/app";

const drivers = {
  policy: { driver_type: "policy", payload: { policy_name: "rps", start_year: 2030, target: 0.6, target_year: 2035, region: "PJM" } },
  load: { driver_type: "load_growth", payload: { annual_growth_pct: 1.5, start_year: 2027, end_year: 2035, reference_curve_key: "PJM_WEST_ON_PEAK" } },
  fuel: { driver_type: "fuel_curve", payload: { fuel: "NATURAL_GAS", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 250 } },
  fleet: { driver_type: "fleet_change", payload: { fleet_id: "coal-retire-1", change_type: "Retire", effective_date: "2028-06-01", capacity_mw: 1200, technology: "coal" } },
};

describe("driver and parameter validation", () => {
  let db: TestDb;
  let app: ReturnType<typeof buildApp>;
  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
    app = buildApp(db);
  });
  afterAll(async () => {
    await db?.drop();
  });
  let n = 0;
  const create = (assumptions: unknown[], parameters?: Record<string, unknown>) =>
    call(app, "POST", "/v1/scenarios", {
      body: { tenant_id: "t-drivers", name: `s-${n++}`, assumptions: assumptions as never, ...(parameters ? { parameters: parameters as never } : {}) },
    });

  test("accepts every driver type with its payload, normalising enum case", async () => {
    const res = await create(Object.values(drivers), { shock_bp: 25, horizon_months: 60, mc_paths: 100, seed: 7, band_quantiles: [0.1, 0.9], note: "user's own key" });
    expect(res.status).toBe(201);
    const [policy, , fuel, fleet] = res.json.data.assumptions;
    expect(policy.payload.policy_name).toBe("RPS");
    expect(fuel.payload.fuel).toBe("natural_gas");
    expect(fleet.payload.change_type).toBe("retire");
    expect(res.json.data.parameters.note).toBe("user's own key");
  });

  const bad: [string, unknown[], string, Record<string, unknown>?][] = [
    ["an unknown driver", [{ driver_type: "weather", payload: {} }], "/assumptions/0/driver_type"],
    ["a missing field", [{ driver_type: "policy", payload: { policy_name: "RPS", target: 0.5 } }], "/assumptions/0/payload/start_year"],
    ["a wrong type", [drivers.policy, { driver_type: "load_growth", payload: { ...drivers.load.payload, annual_growth_pct: "2%" } }], "/assumptions/1/payload/annual_growth_pct"],
    ["start after end", [{ driver_type: "load_growth", payload: { ...drivers.load.payload, start_year: 2036 } }], "/assumptions/0/payload/start_year"],
    ["a negative capacity", [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, capacity_mw: -5 } }], "/assumptions/0/payload/capacity_mw"],
    ["a zero capacity", [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, capacity_mw: 0 } }], "/assumptions/0/payload/capacity_mw"],
    [
      "an unknown curve key",
      [drivers.policy, { driver_type: "fuel_curve", payload: { ...drivers.fuel.payload, reference_series: "NOPE_GAS" } }],
      "/assumptions/1/payload/reference_series",
    ],
    [
      "an unknown reference curve",
      [{ driver_type: "load_growth", payload: { ...drivers.load.payload, reference_curve_key: "MARS_HUB" } }],
      "/assumptions/0/payload/reference_curve_key",
    ],
    ["an RPS share above 1", [{ driver_type: "policy", payload: { ...drivers.policy.payload, target: 60 } }], "/assumptions/0/payload/target"],
    ["a target year before the start", [{ driver_type: "policy", payload: { ...drivers.policy.payload, target_year: 2029 } }], "/assumptions/0/payload/target_year"],
    [
      "an impossible effective date",
      [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, effective_date: "2028-02-30" } }],
      "/assumptions/0/payload/effective_date",
    ],
    ["an unknown fuel", [{ driver_type: "fuel_curve", payload: { ...drivers.fuel.payload, fuel: "hydrogen" } }], "/assumptions/0/payload/fuel"],
    ["an unknown payload field", [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, colour: "red" } }], "/assumptions/0/payload/colour"],
    ["a bad shock_bp", [], "/parameters/shock_bp", { shock_bp: "25bp" }],
    ["too many Monte Carlo paths", [], "/parameters/mc_paths", { mc_paths: 1_000_000 }],
    ["inverted band quantiles", [], "/parameters/band_quantiles/0", { band_quantiles: [0.95, 0.05] }],
  ];
  for (const [what, assumptions, field, parameters] of bad) {
    test(`${what} → 400 naming ${field}`, async () => {
      const [{ before }] = await db.sql`select count(*)::int as before from scenario`;
      const res = await create(assumptions, parameters);
      expect(res.status).toBe(400);
      expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
      expect((await db.sql`select count(*)::int as n from scenario`)[0]?.n).toBe(before);
    });
  }

  test("PATCH validates assumptions the same way", async () => {
    const s = (await create([drivers.policy])).json.data;
    const res = await call(app, "PATCH", `/v1/scenarios/${s.id}`, {
      body: { assumptions: [{ driver_type: "fuel_curve", payload: { ...drivers.fuel.payload, reference_series: "NOPE" } }] },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].field).toBe("/assumptions/0/payload/reference_series");
    expect((await call(app, "GET", `/v1/scenarios/${s.id}`)).json.data.version).toBe(1);
  });
});
