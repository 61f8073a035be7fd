/** Property tests: every encoded row reads back unchanged through a standard CSV parser (fast-csv) and JSON.parse. */
import { describe, expect, test } from "bun:test";
import { CSV_HEADER, csvRow, csvText, encodeRows, jsonbText, ndjsonRow } from "../../../src/outputs/encoders";
import { OUTPUT_COLUMNS, type OutputRow } from "../../../src/outputs/row";
import { parseCsv } from "../../support/outputs";

/** mulberry32: small, seeded, good enough to pick test cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ["a", "Z", "0", ",", '"', "\n", "\r", "\r\n", "\t", " ", "=", "+", "-", "@", "'", "\\", "é", "⚡", "😀", "\u2028", "{", "}", ";", "SUM(A1)", '""'];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  1e-300,
  -1e300,
  1e21,
  1e-7,
  123456.789012345,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

function randomRows(seed: number, n: number): OutputRow[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const text = (min = 0) => Array.from({ length: min + Math.floor(r() * 8) }, () => pick(PIECES)).join("");
  const num = () => (r() < 0.4 ? pick(NUMBERS) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
  const uuid = () => crypto.randomUUID();
  return Array.from({ length: n }, () => ({
    scenario_id: uuid(),
    run_id: uuid(),
    asof_date: "2026-01-02",
    curve_key: text(),
    tenor_type: pick(["MONTHLY", "QUARTER", "CALENDAR", text()]),
    contract_month: "2027-03-01",
    tenor_label: text(),
    metric: text(),
    value: num(),
    band_lower: r() < 0.2 ? null : num(),
    band_upper: r() < 0.2 ? null : num(),
    attribution: r() < 0.3 ? null : Object.fromEntries(Array.from({ length: Math.floor(r() * 3) }, () => [text(1), Number.isFinite(num()) ? (r() - 0.5) * 100 : 1])),
    version_hash: text(1),
  }));
}

/** What a reader gets back from a CSV number cell. */
const sameNumber = (cell: string, n: number | null) => (n === null ? cell === "" : Object.is(Number(cell), n === 0 ? 0 : n) || (Number.isNaN(n) && cell === "NaN"));
const formulaSafe = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
const jsonValue = (n: number | null) => (n === null ? null : Number.isFinite(n) ? (n === 0 ? 0 : n) : String(n));

describe("CSV encoder", () => {
  for (const escapeFormulas of [false, true]) {
    test(`500 random awkward rows round-trip through fast-csv (escape_formulas=${escapeFormulas})`, async () => {
      const rows = randomRows(escapeFormulas ? 2 : 1, 500);
      const parsed = await parseCsv(CSV_HEADER + rows.map((r) => csvRow(r, escapeFormulas)).join(""));
      expect(parsed).toHaveLength(rows.length);
      rows.forEach((row, i) => {
        const cells = parsed[i] as Record<string, string>;
        expect(Object.keys(cells)).toEqual([...OUTPUT_COLUMNS]);
        const text = (v: string) => (escapeFormulas ? formulaSafe(v) : v);
        expect([cells.curve_key, cells.tenor_type, cells.tenor_label, cells.metric, cells.version_hash]).toEqual(
          [row.curve_key, row.tenor_type, row.tenor_label, row.metric, row.version_hash].map(text),
        );
        expect([cells.scenario_id, cells.run_id, cells.asof_date, cells.contract_month]).toEqual([row.scenario_id, row.run_id, row.asof_date, row.contract_month]);
        for (const col of ["value", "band_lower", "band_upper"] as const) {
          if (!sameNumber(cells[col] as string, row[col])) throw new Error(`row ${i} ${col}: ${cells[col]} ≠ ${row[col]}`);
        }
        expect(cells.attribution === "" ? null : JSON.parse(cells.attribution as string)).toEqual(row.attribution);
      });
    });
  }

  test("quotes exactly what needs quoting, like Postgres COPY CSV; empty is quoted so it differs from null", () => {
    expect(csvText("plain")).toBe("plain");
    expect(csvText(" spaced ")).toBe(" spaced ");
    expect(csvText('a "b", c')).toBe('"a ""b"", c"');
    expect(csvText("line\nbreak")).toBe('"line\nbreak"');
    expect(csvText("cr\r")).toBe('"cr\r"');
    expect(csvText("")).toBe('""');
    expect(csvText("=1+2", true)).toBe("'=1+2");
    expect(csvText("@SUM(A1),x", true)).toBe(`"'@SUM(A1),x"`);
    expect(csvText("-3", true)).toBe("'-3");
    expect(csvText("a=b", true)).toBe("a=b");
  });

  test("attribution is spelled as Postgres prints jsonb", () => {
    expect(jsonbText({ "policy:0": 1.5, "fuel_curve:1": -2 })).toBe('{"policy:0": 1.5, "fuel_curve:1": -2}');
    expect(jsonbText({})).toBe("{}");
  });
});

describe("NDJSON encoder", () => {
  test("1,000 random awkward rows parse back with JSON.parse, one object per line, keys in column order", () => {
    const rows = randomRows(3, 1000);
    const lines = rows.map(ndjsonRow).join("").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(rows.length);
    lines.forEach((line, i) => {
      const row = rows[i] as OutputRow;
      const parsed = JSON.parse(line);
      expect(Object.keys(parsed)).toEqual([...OUTPUT_COLUMNS]);
      expect(parsed).toEqual({ ...row, value: jsonValue(row.value), band_lower: jsonValue(row.band_lower), band_upper: jsonValue(row.band_upper) });
    });
  });
});

describe("encodeRows", () => {
  async function collect(format: "csv" | "ndjson", batches: OutputRow[][]) {
    const chunks: Uint8Array[] = [];
    for await (const c of encodeRows(
      (async function* () {
        yield* batches;
      })(),
      format,
    ))
      chunks.push(c);
    return chunks.map((c) => new TextDecoder().decode(c));
  }

  test("one chunk per batch; CSV opens with the header, even with no rows", async () => {
    const rows = randomRows(4, 4);
    expect(await collect("csv", [])).toEqual([CSV_HEADER]);
    expect(await collect("ndjson", [])).toEqual([]);
    const csv = await collect("csv", [rows.slice(0, 2), rows.slice(2)]);
    expect(csv).toEqual([CSV_HEADER + csvRow(rows[0] as OutputRow) + csvRow(rows[1] as OutputRow), csvRow(rows[2] as OutputRow) + csvRow(rows[3] as OutputRow)]);
  });
});
