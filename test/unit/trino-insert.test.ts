// Output rows as Trino INSERT statements: each statement fits the length limit, and the JSON each
// carries decodes (as Trino decodes it: dictionary positions, JSON numbers and "NaN" strings) back
// to exactly the rows given.
import { describe, expect, test } from "bun:test";
import type { RunOutputMeta } from "../../src/outputs/store";
import { insertStatements, type OutputColumns } from "../../src/outputs/trino-insert";
import { syntheticBatches } from "../support/output-batches";
import { contractBatch } from "../support/output-contract";

const META: RunOutputMeta = { tenantId: "t'1", scenarioId: "s-1", runId: "r-1", asofDate: "2026-01-02", versionHash: "vh", computedTs: "2026-01-02T03:04:05.678Z" };

/** The rows one statement carries, decoded the way the statement's SQL decodes them. */
function decode(sql: string) {
  const open = "json_parse(if(random() >= 0, '";
  const start = sql.indexOf(open) + open.length;
  const end = sql.indexOf("')) AS ROW(", start);
  const doc = JSON.parse(sql.slice(start, end).replaceAll("''", "'"));
  const num = (v: number | string | null) => (typeof v === "string" ? Number(v) : v);
  return (doc.k as number[]).map((k, i) => ({
    curveKey: doc.d[k - 1],
    tenorType: doc.d[doc.t[i] - 1],
    contractMonth: doc.c[i],
    tenorLabel: doc.d[doc.l[i] - 1],
    metric: doc.d[doc.m[i] - 1],
    value: num(doc.v[i]),
    bandLower: num(doc.lo[i]),
    bandUpper: num(doc.hi[i]),
    attribution: doc.a[i],
  }));
}

function rowsOf(batches: OutputColumns[]) {
  return batches.flatMap((b) =>
    Array.from({ length: b.length }, (_, i) => ({
      curveKey: b.curveKey[i],
      tenorType: b.tenorType[i],
      contractMonth: b.contractMonth[i],
      tenorLabel: b.tenorLabel[i],
      metric: b.metric[i],
      value: b.value[i],
      bandLower: b.bandLower[i],
      bandUpper: b.bandUpper[i],
      attribution: b.attribution[i],
    })),
  );
}

describe("insertStatements", () => {
  test("every statement fits the limit, and together they carry every row once, in order", () => {
    const batches = syntheticBatches(30_000, 7_000);
    const statements = [...insertStatements("iceberg.market.scenario_output", META, "w-1", batches, 100_000)];
    expect(statements.length).toBeGreaterThan(20);
    for (const s of statements) expect(s.sql.length).toBeLessThanOrEqual(100_000);
    expect(statements.reduce((n, s) => n + s.rows, 0)).toBe(30_000);
    expect(statements.flatMap((s) => decode(s.sql))).toEqual(rowsOf(batches));
  });

  test("awkward text, NaN, ±Infinity, -0 and NULL bands decode to exactly what was given", () => {
    const b = contractBatch(200);
    const nullBands: OutputColumns = { ...b, bandLower: Array.from(b.bandLower, (v, i) => (i % 4 ? v : null)), bandUpper: Array.from(b.bandUpper, (v, i) => (i % 5 ? v : null)) };
    const rows = [...insertStatements("t", META, "w-1", [nullBands], 1_000_000)].flatMap((s) => decode(s.sql));
    expect(rows).toEqual(rowsOf([nullBands]));
    expect(Object.is(rows[3]?.value, -0)).toBe(true);
  });

  test("an attribution with a non-finite entry is written as valid JSON, the entry spelled as a string", () => {
    const b = contractBatch(3);
    const given: OutputColumns = { ...b, attribution: ['{"load_growth:1":Infinity,"policy:0":1.5}', '{"fuel_curve:0":NaN}', null] };
    const rows = [...insertStatements("t", META, "w-1", [given], 1_000_000)].flatMap((s) => decode(s.sql));
    // Iceberg stores this text as is: every non-null one must parse.
    expect(rows.map((r) => (r.attribution === null ? null : JSON.parse(r.attribution)))).toEqual([
      { "load_growth:1": "Infinity", "policy:0": 1.5 },
      { "fuel_curve:0": "NaN" },
      null,
    ]);
  });

  test("the run's constants are SQL literals, quoted; statement n is tagged prefix + n", () => {
    const statements = [...insertStatements("t", META, "w'1:", [contractBatch(3000)], 100_000)];
    expect(statements.length).toBeGreaterThan(1);
    statements.forEach((s, n) => {
      expect(s.tag).toBe(`w'1:${n}`);
      expect(s.sql).toContain("'t''1', 's-1', 'r-1', DATE '2026-01-02'");
      expect(s.sql).toContain(`'vh', TIMESTAMP '2026-01-02 03:04:05.678 UTC', 'w''1:${n}'`);
    });
  });

  test("no rows, no statements; a limit too small for any row is refused", () => {
    expect([...insertStatements("t", META, "w", [], 1_000_000)]).toEqual([]);
    expect(() => [...insertStatements("t", META, "w", [contractBatch(1)], 2_000)]).toThrow(RangeError);
  });
});
