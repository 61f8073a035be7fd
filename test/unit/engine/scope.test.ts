/** The scope table (docs/model.md §3.1) and unit conversion (§3.2), function by function. */
import { describe, expect, test } from "bun:test";
import { carbonProgramOf, gasHubMarket, isBasisCurve, isHenryHub, marketOf, programCovers, regionCovers } from "../../../src/engine/scope";
import { unitFactor } from "../../../src/engine/units";

const curve = (market: string, location: string) => ({ market, location, curveKey: `${market}_${location}` });

describe("markets", () => {
  test("market names and hub locations resolve to the stack's markets; anything else is DEFAULT", () => {
    expect(marketOf(curve("ISO-NE", "Mass Hub"))).toBe("ISO-NE");
    expect(marketOf(curve("isone", "x"))).toBe("ISO-NE");
    expect(marketOf(curve("WECC", "Mid-Columbia"))).toBe("NW");
    expect(marketOf(curve("HUB", "SP15"))).toBe("CAISO");
    expect(marketOf(curve("WECC", "Palo Verde"))).toBe("DEFAULT");
    expect(marketOf(curve("ZZX", "LOC0"))).toBe("DEFAULT");
  });

  test("regions cover by market, location, alias, state or carbon program; others do not", () => {
    const pjmWest = curve("PJM", "PJM West Hub");
    const nyc = curve("NYISO", "Zone J (NYC)");
    expect(regionCovers(undefined, pjmWest)).toBe(true);
    expect(regionCovers(" pjm ", pjmWest)).toBe(true);
    expect(regionCovers("pjm west hub", pjmWest)).toBe(true);
    expect(regionCovers("NJ", pjmWest)).toBe(true);
    expect(regionCovers("il", curve("MISO", "Illinois Hub"))).toBe(true);
    expect(regionCovers("NY", nyc)).toBe(true);
    expect(regionCovers("ISONE", curve("ISO-NE", "Mass Hub"))).toBe(true);
    expect(regionCovers("RGGI", nyc)).toBe(true);
    // negatives
    expect(regionCovers("RGGI", pjmWest)).toBe(false);
    expect(regionCovers("RGGI", curve("PJM", "PSEG")) && !regionCovers("RGGI", curve("ERCOT", "North"))).toBe(true);
    expect(regionCovers("NY", pjmWest)).toBe(false);
    expect(regionCovers("TX", nyc)).toBe(false);
    expect(regionCovers("FL", pjmWest)).toBe(false);
    expect(regionCovers("PJMM", pjmWest)).toBe(false);
    expect(regionCovers("NYMEX", pjmWest)).toBe(false);
  });
});

describe("carbon programs and gas hubs", () => {
  test("a co2 curve's market, location or key names its program; the program covers its markets only", () => {
    const rggi = carbonProgramOf({ market: "RGGI", location: "RGGI allowances", curveKey: "RGGI_CO2" })!;
    expect(rggi.name).toBe("RGGI");
    expect(carbonProgramOf({ market: "ICE", location: "California Carbon Allowance", curveKey: "CCA_V26" })?.name).toBe("WCI");
    expect(carbonProgramOf({ market: "ICE", location: "EU allowances", curveKey: "EUA" })).toBeUndefined();
    for (const [m, l, covered] of [
      ["NYISO", "Zone J", true],
      ["ISO-NE", "Mass Hub", true],
      ["PJM", "Eastern Hub", true],
      ["PJM", "PJM West Hub", false],
      ["ERCOT", "ERCOT North Hub", false],
      ["CAISO", "SP15", false],
      ["MISO", "Indiana Hub", false],
      ["SPP", "SPP South Hub", false],
      ["WECC", "Mid-Columbia", false],
    ] as const)
      expect(programCovers(rggi, curve(m, l))).toBe(covered);
  });

  test("regional hubs, basis curves and the benchmark", () => {
    expect(gasHubMarket({ location: "TETCO M3", curveKey: "X" })).toBe("PJM");
    expect(gasHubMarket({ location: "Algonquin Citygates", curveKey: "X" })).toBe("ISO-NE");
    expect(gasHubMarket({ location: "Henry Hub", curveKey: "HENRY_HUB_GAS" })).toBeUndefined();
    expect(isBasisCurve({ location: "TETCO M3 basis", curveKey: "X" })).toBe(true);
    expect(isBasisCurve({ location: "TETCO M3", curveKey: "TETCO_M3" })).toBe(false);
    expect(isHenryHub({ location: "Henry Hub", curveKey: "HH", market: "NYMEX" })).toBe(true);
    expect(isHenryHub({ location: "GAS0", curveKey: "GAS0", market: "HUB" })).toBe(false);
  });
});

describe("units", () => {
  test("factors to the canonical unit", () => {
    expect(unitFactor("co2", "USD/short_ton")).toBeCloseTo(1 / 0.90718474, 15);
    expect(unitFactor("co2", "USD/tCO2")).toBe(1);
    expect(unitFactor("co2", "usd per tonne")).toBe(1);
    expect(unitFactor("coal", "USD/tonne")).toBe(0.90718474);
    expect(unitFactor("coal", "USD/short_ton")).toBe(1);
    expect(unitFactor("natural_gas", "USD/therm")).toBe(10);
    expect(unitFactor("natural_gas", "USD/GJ")).toBe(1.055056);
    expect(unitFactor("natural_gas", "usd/mmbtu")).toBe(1);
    expect(unitFactor("power", "USc/kWh")).toBeCloseTo(10, 12);
    expect(unitFactor("oil", "USD/gal")).toBe(42);
  });
  test("unconvertible units are undefined, never guessed", () => {
    for (const [p, u] of [
      ["power", "EUR/MWh"],
      ["power", "USD"],
      ["natural_gas", "USD/bbl"],
      ["co2", "USD/MWh"],
      ["coal", "XYZ"],
      ["oil", ""],
    ] as const)
      expect(unitFactor(p, u)).toBeUndefined();
  });
});
