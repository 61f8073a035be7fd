/** Driver payloads and model parameters are validated at POST/PATCH /v1/scenarios, naming the field. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createCurveRepo } from "../../src/curves/repo";
import { createCurveService } from "../../src/curves/service";
import { POLICY_NAMES, TECHNOLOGY_KEYWORDS } from "../../src/engine/params";
import { buildApp, call, createTestDb, GUIDE_SCENARIO, type TestDb } from "../support/app";

const drivers = {
  policy: { driver_type: "policy", payload: { policy_name: "rps", start_year: 2030, target: 0.6, target_year: 2035, region: "PJM" } },
  load: { driver_type: "load_growth", payload: { annual_growth_pct: 1.5, start_year: 2027, end_year: 2035, reference_curve_key: "PJM_WEST_ON_PEAK" } },
  fuel: { driver_type: "fuel_curve", payload: { fuel: "NATURAL_GAS", reference_series: "HENRY_HUB_GAS", basis_points_adjustment: 250 } },
  fleet: {
    driver_type: "fleet_change",
    payload: { fleet_id: "coal-retire-1", change_type: "Retire", effective_date: "2028-06-01", capacity_mw: 1200, technology: "coal", region: "PJM" },
  },
};

describe("driver and parameter validation", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    db = await createTestDb("postgres");
    await createCurveService(createCurveRepo(db.sql)).loadSampleIfEmpty();
    app = await buildApp(db);
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
    [
      "an effective date after 2100",
      [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, effective_date: "2101-01-01" } }],
      "/assumptions/0/payload/effective_date",
    ],
    ["an unknown fuel", [{ driver_type: "fuel_curve", payload: { ...drivers.fuel.payload, fuel: "hydrogen" } }], "/assumptions/0/payload/fuel"],
    ["an unknown payload field", [{ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, colour: "red" } }], "/assumptions/0/payload/colour"],
    ["a bad shock_bp", [], "/parameters/shock_bp", { shock_bp: "25bp" }],
    ["too many Monte Carlo paths", [], "/parameters/mc_paths", { mc_paths: 1_000_000 }],
    ["one Monte Carlo path (below 100)", [], "/parameters/mc_paths", { mc_paths: 1 }],
    ["99 Monte Carlo paths", [], "/parameters/mc_paths", { mc_paths: 99 }],
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

  describe("no silent no-ops: drivers the engine would skip are refused at create and at patch", () => {
    const policy = (payload: Record<string, unknown>) => ({ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6, ...payload } });
    const load = (payload: Record<string, unknown>) => ({ driver_type: "load_growth", payload: { annual_growth_pct: 1.5, start_year: 2027, end_year: 2035, ...payload } });
    const fuel = (payload: Record<string, unknown>) => ({ driver_type: "fuel_curve", payload: { ...drivers.fuel.payload, ...payload } });
    const fleet = (payload: Record<string, unknown>) => ({ driver_type: "fleet_change", payload: { ...drivers.fleet.payload, ...payload } });
    const powerMarkets = ["CAISO", "ERCOT", "ISO-NE", "MISO", "NYISO", "PJM", "SPP", "WECC"];

    /** [what, the refused driver, its field, strings the field's message must contain (the allowed values)] */
    const noOps: [string, unknown, string, string[]][] = [
      ["an unknown policy name (RGGI)", policy({ policy_name: "RGGI" }), "policy_name", [...POLICY_NAMES]],
      ["an unknown policy name in lower case", policy({ policy_name: "cap_and_trade", target: 20 }), "policy_name", [...POLICY_NAMES]],
      ["a policy region that matches no curve (ISONEE)", policy({ region: "ISONEE" }), "region", ["ISONEE", ...powerMarkets, "PJM West Hub", "US state"]],
      ["a policy region with a typo (PJMM)", policy({ region: "PJMM" }), "region", ["PJMM", ...powerMarkets]],
      [
        "a policy region that matches only fuel curves (NYMEX)",
        policy({ region: "NYMEX", policy_name: "CARBON_TAX", target: 20 }),
        "region",
        ["NYMEX", "power curve", ...powerMarkets],
      ],
      ["a policy region that is the location of a fuel curve (Henry Hub)", policy({ region: "Henry Hub" }), "region", ["power curve", "PJM"]],
      ["a load_growth region that matches no curve", load({ region: "PJMM" }), "region", ["PJMM", ...powerMarkets]],
      ["a fleet_change region that matches no curve", fleet({ region: "ISONEE" }), "region", ["ISONEE", ...powerMarkets]],
      ["a fleet_change without a region (it belongs to one market)", fleet({ region: undefined }), "region", ["required"]],
      ["a fleet_change with a blank region", fleet({ region: "   " }), "region", []],
      ["a state whose markets have no power curve (FL)", policy({ region: "FL" }), "region", ["FL", ...powerMarkets]],
      ["a technology the model has no parameters for", fleet({ technology: "fusion" }), "technology", ["fusion", ...TECHNOLOGY_KEYWORDS]],
      ["a misspelt technology", fleet({ technology: "sollar" }), "technology", ["sollar", "solar", "wind", "nuclear"]],
      ["a coal driver pointed at a gas curve", fuel({ fuel: "coal", reference_series: "HENRY_HUB_GAS" }), "reference_series", ["natural_gas curve", "coal curve", "CAPP_COAL"]],
      ["a gas driver pointed at a power curve", fuel({ fuel: "natural_gas", reference_series: "PJM_WEST_ON_PEAK" }), "reference_series", ["power curve", "HENRY_HUB_GAS"]],
      [
        "an oil driver when no oil curve is loaded",
        fuel({ fuel: "oil", reference_series: "CAPP_COAL" }),
        "reference_series",
        ["coal curve", "oil curve", "POST /v1/curves:import"],
      ],
      ["a fuel driver on an unknown curve", fuel({ reference_series: "NOPE_GAS" }), "reference_series", ["unknown curve key NOPE_GAS", "HENRY_HUB_GAS"]],
      ["a load_growth reference curve that does not exist", load({ reference_curve_key: "MARS_HUB" }), "reference_curve_key", ["unknown curve key MARS_HUB", "PJM_WEST_ON_PEAK"]],
      ["a co2 driver pointed at a coal curve", fuel({ fuel: "co2", reference_series: "CAPP_COAL" }), "reference_series", ["RGGI_CO2"]],
      [
        "a load_growth reference curve that is not power",
        load({ reference_curve_key: "HENRY_HUB_GAS" }),
        "reference_curve_key",
        ["natural_gas curve", "power curve", "PJM_WEST_ON_PEAK"],
      ],
      [
        "a load_growth region that does not match its reference curve",
        load({ region: "ERCOT", reference_curve_key: "PJM_WEST_ON_PEAK" }),
        "region",
        ["ERCOT", "PJM_WEST_ON_PEAK", "PJM", "PJM West Hub"],
      ],
    ];

    const expectRefused = (res: Awaited<ReturnType<typeof create>>, field: string, mentions: string[]) => {
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("VALIDATION_ERROR");
      const issue = res.json.error.details.find((d: { field: string }) => d.field === field);
      expect(issue).toBeDefined();
      for (const m of mentions) expect(issue.message).toContain(m);
    };

    for (const [what, driver, name, mentions] of noOps) {
      const field = `/assumptions/1/payload/${name}`;
      test(`create: ${what} → 400 naming ${field} and the allowed values`, async () => {
        const [{ before }] = await db.sql`select count(*)::int as before from scenario`;
        expectRefused(await create([policy({}), driver]), field, mentions);
        expect((await db.sql`select count(*)::int as n from scenario`)[0]?.n).toBe(before);
      });
      test(`patch: ${what} → 400 naming ${field}; the scenario is unchanged`, async () => {
        const s = (await create([policy({})])).json.data;
        const res = await call(app, "PATCH", `/v1/scenarios/${s.id}`, { body: { assumptions: [policy({}), driver] as never } });
        expectRefused(res, field, mentions);
        const after = (await call(app, "GET", `/v1/scenarios/${s.id}`)).json.data;
        expect(after.version).toBe(1);
        expect(after.assumptions).toEqual(s.assumptions);
      });
    }

    test("every refused driver is named at once, each at its own position", async () => {
      const res = await create([policy({ region: "ISONEE" }), fleet({ region: "PJM" }), fuel({ fuel: "coal", reference_series: "HENRY_HUB_GAS" }), policy({ region: "PJMM" })]);
      expect(res.status).toBe(400);
      expect(res.json.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
        "/assumptions/0/payload/region",
        "/assumptions/2/payload/reference_series",
        "/assumptions/3/payload/region",
      ]);
      expect(res.json.error.message).toContain("/assumptions/0/payload/region");
    });

    /** Drivers that do move a curve: each must still be accepted. */
    const valid: [string, unknown[]][] = [
      ["the guide's example (RPS 2030, target 0.6, no region)", GUIDE_SCENARIO.assumptions],
      ["every policy the engine knows, any case", [policy({ policy_name: "rps" }), policy({ policy_name: "Ces", target: 0.4 }), policy({ policy_name: "carbon_tax", target: 40 })]],
      [
        "regions by market or by location, any case and padded",
        [policy({ region: "pjm" }), load({ region: " ISO-NE " }), fleet({ region: "pjm west hub" }), policy({ region: "SP15" })],
      ],
      [
        "regions by market alias, US state and carbon program (docs/model.md §3.1)",
        [policy({ region: "ISONE" }), policy({ region: "nj" }), fleet({ region: "TX" }), policy({ region: "RGGI", policy_name: "CARBON_TAX", target: 20 })],
      ],
      [
        "a load_growth region matching its power reference curve",
        [load({ region: "PJM", reference_curve_key: "PJM_WEST_OFF_PEAK" }), load({ region: "ercot north hub", reference_curve_key: "ERCOT_NORTH_ON_PEAK" })],
      ],
      [
        "technologies by keyword (as the engine matches them) and a fleet change without one",
        [
          fleet({ technology: "Solar PV" }),
          fleet({ technology: "offshore_wind" }),
          fleet({ technology: "battery" }),
          fleet({ technology: "gas_cc" }),
          fleet({ technology: "coal" }),
          fleet({ technology: undefined }),
        ],
      ],
      [
        "fuel drivers on curves of their fuel",
        [
          fuel({ fuel: "natural_gas", reference_series: "HENRY_HUB_GAS" }),
          fuel({ fuel: "COAL", reference_series: "CAPP_COAL" }),
          fuel({ fuel: "co2", reference_series: "RGGI_CO2" }),
        ],
      ],
    ];
    for (const [what, assumptions] of valid) {
      test(`accepted at create and at patch: ${what}`, async () => {
        const created = await create(assumptions);
        expect(created.status).toBe(201);
        expect(created.json.data.assumptions).toHaveLength(assumptions.length);
        const patched = await call(app, "PATCH", `/v1/scenarios/${created.json.data.id}`, { body: { assumptions: [...assumptions].reverse() as never } });
        expect(patched.status).toBe(200);
        expect(patched.json.data.version).toBe(2);
      });
    }
  });
});

describe("regions on an empty curve store", () => {
  let db: TestDb;
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    db = await createTestDb("postgres");
    app = await buildApp(db);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("a region is refused and the message says no curve is loaded; the guide's scenario (no region, no curve) is accepted", async () => {
    const res = await call(app, "POST", "/v1/scenarios", {
      body: { tenant_id: "t-empty", name: "regional", assumptions: [{ driver_type: "policy", payload: { policy_name: "RPS", start_year: 2030, target: 0.6, region: "PJM" } }] },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].field).toBe("/assumptions/0/payload/region");
    expect(res.json.error.details[0].message).toContain("none is loaded");
    expect((await call(app, "POST", "/v1/scenarios", { body: GUIDE_SCENARIO as never })).status).toBe(201);
  });
});
