/** The console's assumption forms are read off the API's driver schemas: every field, its kind, range and choices. */
import { describe, expect, test } from "bun:test";
import { POLICY_NAMES } from "../../src/engine/params";
import { CHANGE_TYPES, DRIVER_PAYLOADS, driverForms, FUELS, validateAssumptions } from "../../src/scenarios/drivers";

describe("driverForms", () => {
  const forms = driverForms();

  test("one form per driver type, one field per schema property, required as the schema says", () => {
    expect(Object.keys(forms)).toEqual(Object.keys(DRIVER_PAYLOADS));
    for (const [type, schema] of Object.entries(DRIVER_PAYLOADS)) {
      const fields = forms[type as keyof typeof forms];
      expect(fields.map((f) => f.name)).toEqual(Object.keys(schema.properties));
      expect(fields.filter((f) => f.required).map((f) => f.name)).toEqual(schema.required ?? []);
    }
  });

  test("kinds, ranges, choices and curve products", () => {
    const by = (type: keyof typeof forms, name: string) => forms[type].find((f) => f.name === name);
    expect(by("policy", "policy_name")).toMatchObject({ kind: "choice", choices: POLICY_NAMES });
    expect(by("policy", "start_year")).toMatchObject({ kind: "integer", minimum: 2000, maximum: 2100 });
    expect(by("policy", "target")).toMatchObject({ kind: "number", minimum: 0, maximum: 10_000 });
    expect(by("fuel_curve", "fuel")).toMatchObject({ kind: "choice", choices: FUELS });
    expect(by("fuel_curve", "reference_series")).toMatchObject({ kind: "curve", required: true, product: { field: "fuel" } });
    expect(by("load_growth", "reference_curve_key")).toMatchObject({ kind: "curve", required: false, product: "power" });
    expect(by("fleet_change", "change_type")).toMatchObject({ kind: "choice", choices: CHANGE_TYPES });
    expect(by("fleet_change", "effective_date")?.kind).toBe("date");
    expect(by("fleet_change", "capacity_mw")).toMatchObject({ kind: "number", exclusiveMinimum: 0, maximum: 1_000_000 });
    expect(by("fleet_change", "region")).toMatchObject({ kind: "text", required: true });
  });

  test("the markers forms read stay out of JSON (so out of the OpenAPI document)", () => {
    const json = JSON.stringify(DRIVER_PAYLOADS);
    expect(json).not.toContain("aurum.");
    expect(JSON.parse(json).fuel_curve.properties.reference_series).not.toHaveProperty("product");
  });

  test("a missing field is 'is required' (not TypeBox's 'Expected required property')", () => {
    const { issues } = validateAssumptions([{ driver_type: "fuel_curve", payload: { fuel: "coal", reference_series: "X" } }]);
    expect(issues).toEqual([{ field: "/assumptions/0/payload/basis_points_adjustment", location: "body", message: "is required" }]);
  });
});
