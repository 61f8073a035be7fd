/** The one spelling of non-finite doubles in JSON (src/outputs/finite.ts): pages, attribution text written and read. */
import { describe, expect, test } from "bun:test";
import { parseAttribution, quoteNonFinite, spellDouble, spellRow } from "../../../src/outputs/finite";
import type { OutputRow } from "../../../src/outputs/row";

const ROW: OutputRow = {
  scenario_id: "s",
  run_id: "r",
  asof_date: "2026-01-02",
  curve_key: "C",
  tenor_type: "MONTHLY",
  contract_month: "2026-02-01",
  tenor_label: "2026-02",
  metric: "mid",
  value: 1.5,
  band_lower: null,
  band_upper: 2,
  attribution: { "policy:0": 1.5 },
  version_hash: "v",
};

describe("spelling non-finite doubles", () => {
  test("spellDouble: finite numbers and null as they are; NaN, Infinity, -Infinity as the NDJSON export spells them", () => {
    expect([1.5, -0, 1.7976931348623157e308, null].map(spellDouble)).toEqual([1.5, -0, 1.7976931348623157e308, null]);
    expect([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY].map(spellDouble)).toEqual(["NaN", "Infinity", "-Infinity"]);
  });

  test("spellRow: a finite row is returned as is; a non-finite value, band or attribution entry is spelled, and JSON.stringify keeps it", () => {
    expect(spellRow(ROW)).toBe(ROW);
    const bad = { ...ROW, value: Number.NaN, band_lower: Number.NEGATIVE_INFINITY, attribution: { "policy:0": 1.5, "load_growth:1": Number.POSITIVE_INFINITY } };
    const spelled = spellRow(bad);
    expect(JSON.parse(JSON.stringify(spelled))).toMatchObject({
      value: "NaN",
      band_lower: "-Infinity",
      band_upper: 2,
      attribution: { "policy:0": 1.5, "load_growth:1": "Infinity" },
    });
    // Without the spelling, JSON would lose the values as null.
    expect(JSON.parse(JSON.stringify(bad))).toMatchObject({ value: null, attribution: { "load_growth:1": null } });
    // A latest row (no attribution column) too.
    const { attribution: _, ...latest } = { ...ROW, band_upper: Number.POSITIVE_INFINITY };
    expect(spellRow(latest)).toEqual({ ...latest, band_upper: "Infinity" } as never);
  });
});

describe("attribution text", () => {
  test("quoteNonFinite turns the engine's old `{...:Infinity}` into JSON with the documented spelling; valid JSON is unchanged", () => {
    expect(quoteNonFinite('{"load_growth:1":Infinity}')).toBe('{"load_growth:1":"Infinity"}');
    expect(JSON.parse(quoteNonFinite('{"policy:0":-Infinity,"fuel_curve:1":NaN,"x":1e308}'))).toEqual({ "policy:0": "-Infinity", "fuel_curve:1": "NaN", x: 1e308 });
    // Inside strings (keys, escaped quotes) nothing changes.
    for (const text of ['{"NaN:\\"Infinity\\"":1}', '{"policy:0": 1.5, "a\\\\": 2}', "{}", '{"k":"Infinity"}']) expect(quoteNonFinite(text)).toBe(text);
  });

  test("parseAttribution reads valid JSON and the old bare spelling alike", () => {
    expect(parseAttribution('{"policy:0": 1.5}')).toEqual({ "policy:0": 1.5 });
    expect(parseAttribution('{"load_growth:1":Infinity,"policy:0":NaN}')).toEqual({ "load_growth:1": "Infinity", "policy:0": "NaN" });
    expect(() => JSON.parse('{"load_growth:1":Infinity}')).toThrow();
  });
});
