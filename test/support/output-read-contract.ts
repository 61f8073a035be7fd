/**
 * The output store's read-side contract for values JSON cannot carry, one suite for every store:
 * rows holding NaN, Infinity and -Infinity (value, bands, an attribution entry), put straight into
 * the store (SQL, no writer, as older writers or a manual fix could leave them), must never break a
 * read. Every read answers 200 with the documented spelling (docs/outputs.md): the strings "NaN",
 * "Infinity", "-Infinity" in JSON pages, /metrics/latest and NDJSON; CSV as Postgres prints them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { call } from "./app";
import { parseCsv } from "./outputs";

/** A row to store as is: curve_key and metric vary, the rest of the key is fixed (MONTHLY, 2026-02). */
export type RawRow = {
  curve_key: string;
  metric: string;
  value: number;
  band_lower: number | null;
  band_upper: number | null;
  attribution: Record<string, number> | null;
};

export type ReadContractHarness = {
  /** The API reading this store. */
  app: { handle: (r: Request) => Promise<Response> };
  tenantId: string;
  /** A new scenario with one SUCCEEDED run whose rows are `rows`, written straight into the store; their ids. */
  seed: (rows: RawRow[]) => Promise<{ scenarioId: string; runId: string }>;
  close: () => Promise<void>;
};

export const NON_FINITE_ROWS: RawRow[] = [
  { curve_key: "NF_NAN", metric: "mid", value: Number.NaN, band_lower: Number.NaN, band_upper: Number.NaN, attribution: null },
  {
    curve_key: "NF_POS",
    metric: "uplift",
    value: Number.POSITIVE_INFINITY,
    band_lower: 1,
    band_upper: Number.POSITIVE_INFINITY,
    attribution: { "policy:0": 1.5, "load_growth:1": Number.POSITIVE_INFINITY },
  },
  {
    curve_key: "NF_NEG",
    metric: "NPV",
    value: Number.NEGATIVE_INFINITY,
    band_lower: Number.NEGATIVE_INFINITY,
    band_upper: null,
    attribution: { "load_growth:1": Number.NEGATIVE_INFINITY },
  },
  { curve_key: "NF_FINE", metric: "mid", value: 2.5, band_lower: 2, band_upper: 3, attribution: { "policy:0": 0.5 } },
];

/** What every read shows for NON_FINITE_ROWS, by curve key. */
const EXPECTED: Record<string, { value: unknown; band_lower: unknown; band_upper: unknown; attribution: unknown }> = {
  NF_NAN: { value: "NaN", band_lower: "NaN", band_upper: "NaN", attribution: null },
  NF_POS: { value: "Infinity", band_lower: 1, band_upper: "Infinity", attribution: { "policy:0": 1.5, "load_growth:1": "Infinity" } },
  NF_NEG: { value: "-Infinity", band_lower: "-Infinity", band_upper: null, attribution: { "load_growth:1": "-Infinity" } },
  NF_FINE: { value: 2.5, band_lower: 2, band_upper: 3, attribution: { "policy:0": 0.5 } },
};
const withoutAttribution = (key: string) => {
  const { attribution: _, ...rest } = EXPECTED[key]!;
  return rest;
};
// biome-ignore lint/suspicious/noExplicitAny: rows of any read, compared field by field
const byCurve = (rows: any[]): Record<string, any> => Object.fromEntries(rows.map((r) => [r.curve_key, r]));

/** The engine's old attribution text: `${number}` per entry, so `{"load_growth:1":Infinity}`, which is not JSON. */
export function legacyAttributionText(a: Record<string, number>): string {
  return `{${Object.entries(a)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(",")}}`;
}

export function describeNonFiniteReadContract(name: string, open: () => Promise<ReadContractHarness>, timeoutMs = 60_000): void {
  describe(`output read contract, non-finite values: ${name}`, () => {
    let h: ReadContractHarness;
    let scenarioId: string;
    let runId: string;
    const get = (path: string) => call(h.app, "GET", `/v1/scenarios/${scenarioId}${path}`, { headers: { "x-aurum-tenant": h.tenantId } });

    beforeAll(async () => {
      h = await open();
      ({ scenarioId, runId } = await h.seed(NON_FINITE_ROWS));
    }, timeoutMs);
    afterAll(async () => {
      await h?.close();
    }, timeoutMs);

    test(
      "a JSON page answers 200 and spells NaN, Infinity and -Infinity as strings (value, bands, attribution entries)",
      async () => {
        const res = await get("/outputs?limit=100");
        expect([res.status, res.json?.error]).toEqual([200, undefined]);
        expect(res.json.meta.run_id).toBe(runId);
        const rows = byCurve(res.json.data);
        for (const key of Object.keys(EXPECTED)) expect([key, rows[key]]).toEqual([key, expect.objectContaining(EXPECTED[key]!)]);
      },
      timeoutMs,
    );

    test(
      "/metrics/latest answers 200 with the same spelling",
      async () => {
        const res = await get("/metrics/latest?limit=100");
        expect([res.status, res.json?.error]).toEqual([200, undefined]);
        const rows = byCurve(res.json.data);
        for (const key of Object.keys(EXPECTED)) expect([key, rows[key]]).toEqual([key, expect.objectContaining({ ...withoutAttribution(key), run_id: runId })]);
      },
      timeoutMs,
    );

    test(
      "the NDJSON export answers 200: every line is JSON, with the same spelling",
      async () => {
        const res = await get("/outputs?format=ndjson");
        expect(res.status).toBe(200);
        const lines = res.text.trimEnd().split("\n");
        const rows = byCurve(lines.map((l) => JSON.parse(l)));
        for (const key of Object.keys(EXPECTED)) expect([key, rows[key]]).toEqual([key, expect.objectContaining(EXPECTED[key]!)]);
      },
      timeoutMs,
    );

    test(
      "the CSV export answers 200: NaN, Infinity, -Infinity as text, attribution as JSON with the same spelling",
      async () => {
        const res = await get("/outputs?format=csv");
        expect(res.status).toBe(200);
        const rows = byCurve(await parseCsv(res.text));
        const cell = (v: unknown) => (v === null ? "" : String(v));
        for (const key of Object.keys(EXPECTED)) {
          const want = EXPECTED[key]!;
          const got = rows[key]!;
          expect([key, got.value, got.band_lower, got.band_upper]).toEqual([key, cell(want.value), cell(want.band_lower), cell(want.band_upper)]);
          expect([key, got.attribution === "" ? null : JSON.parse(got.attribution as string)]).toEqual([key, want.attribution]);
        }
      },
      timeoutMs,
    );
  });
}
