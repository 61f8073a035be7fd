// The chunked Trino export (src/outputs/trino-export.ts) against a scripted Trino client: chunks
// cut by metric and size, rows sorted by code point as Trino orders them, every statement on the
// pinned snapshot and none with a global ORDER BY, columns of one known value not read per row, a chunk whose count differs from the plan fails
// the export (as do two rows with one natural key), and a consumer that leaves early (or a limit that is reached) aborts the chunk
// queries still in flight. test/integration/trino-reader.test.ts runs it against real Trino.
import { describe, expect, test } from "bun:test";
import type { QueryOptions, TrinoClient, TrinoPage, TrinoResult } from "../../src/adapters/trino";
import { byCodePoint } from "../../src/outputs/export-order";
import type { ExportRequest, RunFilter } from "../../src/outputs/reader";
import { type ChunkPage, chunkedExport, planChunks, sortChunk } from "../../src/outputs/trino-export";

const COLUMNS = ["metric", "curve_key", "tenor_type", "contract_month"].map((name) => ({ name, type: "varchar" }));
const FILTER: RunFilter = { tenantId: "t", scenarioId: "s", runId: "r" };
const utf8 = (s: string) => Buffer.from(s, "utf8");

describe("planChunks", () => {
  test("consecutive groups of one metric up to the chunk size; a larger group stands alone", () => {
    const groups: [string, string, number][] = [
      ["mid", "A", 40],
      ["mid", "B", 50],
      ["mid", "C", 20],
      ["mid", "D", 250],
      ["mid", "E", 10],
      ["npv", "A", 10],
    ];
    expect(planChunks(groups, 100)).toEqual([
      { metric: "mid", from: "A", to: "B", rows: 90 },
      { metric: "mid", from: "C", to: "C", rows: 20 },
      { metric: "mid", from: "D", to: "D", rows: 250 },
      { metric: "mid", from: "E", to: "E", rows: 10 },
      { metric: "npv", from: "A", to: "A", rows: 10 },
    ]);
    expect(planChunks([], 100)).toEqual([]);
  });
});

describe("byCodePoint", () => {
  test("orders as UTF-8 bytes do (Trino's varchar order), where JavaScript's < does not", () => {
    const values = ["a", "b", "ab", "", "é", "\uE000", "\uFFFF", "\u{10000}", "\u{1F600}", "Z", "\uD7FF", "a\u{10000}", "a\uE000"];
    const expected = [...values].sort((x, y) => Buffer.compare(utf8(x), utf8(y)));
    expect([...values].sort(byCodePoint)).toEqual(expected);
    // The negative case: UTF-16 code units put U+E000 after U+10000's surrogates.
    expect([...values].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).not.toEqual(expected);
  });
});

describe("sortChunk", () => {
  test("by curve_key, tenor_type, contract_month", () => {
    const rows = [
      ["mid", "B", "MONTHLY", "2027-02-01"],
      ["mid", "A", "QUARTER", "2027-01-01"],
      ["mid", "\uE000", "MONTHLY", "2027-01-01"],
      ["mid", "A", "MONTHLY", "2027-03-01"],
      ["mid", "\u{10000}", "MONTHLY", "2027-01-01"],
      ["mid", "A", "MONTHLY", "2027-01-01"],
    ];
    expect(sortChunk(rows, COLUMNS).map((r) => r.slice(1).join("|"))).toEqual([
      "A|MONTHLY|2027-01-01",
      "A|MONTHLY|2027-03-01",
      "A|QUARTER|2027-01-01",
      "B|MONTHLY|2027-02-01",
      "\uE000|MONTHLY|2027-01-01",
      "\u{10000}|MONTHLY|2027-01-01",
    ]);
    const inOrder = [
      ["mid", "A", "MONTHLY", "2027-01-01"],
      ["mid", "B", "MONTHLY", "2027-01-01"],
    ];
    expect(sortChunk(inOrder, COLUMNS)).toBe(inOrder); // in order already: the same array back
  });

  test("any arrival order gives the reference order: a few ascending stretches (a file optimize merged, merged here) or many (sorted)", () => {
    const keys: string[][] = [];
    for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") for (const t of ["MONTHLY", "QUARTER"]) for (const m of ["2027-01-01", "2027-02-01", "2027-03-01"]) keys.push(["mid", c, t, m]);
    const reference = keys.map((r) => r.join("|"));
    // A fixed shuffle: row i goes to place 37·i mod 156 (37 is coprime with 156).
    const shuffled = keys.map((_, i) => keys[(37 * i) % keys.length] as string[]);
    // Three sorted stretches, as optimize leaves a partition it merged from three files.
    const stretches = [keys.filter((_, i) => i % 3 === 0), keys.filter((_, i) => i % 3 === 1), keys.filter((_, i) => i % 3 === 2)].flat();
    for (const rows of [shuffled, stretches, [...keys].reverse()]) expect(sortChunk(rows, COLUMNS).map((r) => r.join("|"))).toEqual(reference);
    // A twin among many stretches, and among a few.
    expect(() => sortChunk([...keys.slice(1).reverse(), ...keys.slice(1, 2)], COLUMNS)).toThrow("1 rows repeat another row's natural key");
    expect(() => sortChunk([...stretches, ...keys.slice(0, 1)], COLUMNS)).toThrow("1 rows repeat another row's natural key");
  });

  test("two rows with one natural key fail, in order or not", () => {
    const twice = ["mid", "A", "MONTHLY", "2027-01-01"];
    expect(() => sortChunk([twice, ["mid", "B", "MONTHLY", "2027-01-01"], [...twice]], COLUMNS)).toThrow("1 rows repeat another row's natural key");
    expect(() => sortChunk([twice, [...twice]], COLUMNS)).toThrow("repeat another row's natural key");
    // Each twin in a stretch of its own, found where the stretches merge.
    const b = ["mid", "B", "MONTHLY", "2027-01-01"];
    expect(() => sortChunk([twice, b, [...twice], [...b]], COLUMNS)).toThrow("2 rows repeat another row's natural key");
  });
});

const NAMES = ["metric", "curve_key", "tenor_type", "contract_month", "version_hash"];

/**
 * A Trino client over `data` (rows of one run, columns NAMES): the snapshot query; the plan (rows,
 * and min, max and count of version_hash, per group); chunk queries answered with the columns they
 * select, from the rows their metric and curve_key range select, in reverse (Trino's order is
 * arbitrary). `hold` makes chunk queries after the first wait until they are aborted.
 */
function scripted(data: string[][], opts: { hold?: boolean; drop?: number } = {}) {
  const statements: string[] = [];
  const aborted: string[] = [];
  let chunkQueries = 0;
  const result = (rows: unknown[][]): TrinoResult => ({ queryId: "q", columns: COLUMNS, rows });
  const client: TrinoClient = {
    async execute(sql) {
      statements.push(sql);
      if (sql.includes("$history")) return result([["8817267612612615237"]]);
      const groups = new Map<string, string[][]>();
      for (const r of data) groups.set(`${r[0]}\u0000${r[1]}`, [...(groups.get(`${r[0]}\u0000${r[1]}`) ?? []), r]);
      const plan = [...groups].map(([k, rows]) => {
        const hashes = rows.map((r) => r[4] as string).sort();
        return [...k.split("\u0000"), rows.length, hashes[0], hashes.at(-1), rows.length];
      });
      return result(plan.sort((a, b) => byCodePoint(`${a[0]}\u0000${a[1]}`, `${b[0]}\u0000${b[1]}`)));
    },
    async *query(sql: string, q?: QueryOptions): AsyncGenerator<TrinoPage, Omit<TrinoResult, "rows">> {
      statements.push(sql);
      const n = chunkQueries++;
      if (opts.hold && n > 0) {
        await new Promise<void>((resolve) => q?.signal?.addEventListener("abort", () => resolve(), { once: true }));
        aborted.push(sql);
        throw new Error("cancelled");
      }
      const selected = (/^SELECT (.*?) FROM/.exec(sql)?.[1] ?? "").split(", ");
      const columns = selected.map((name) => ({ name, type: "varchar" }));
      const metric = /metric = '([^']*)'/.exec(sql)?.[1];
      const range = /curve_key BETWEEN '([^']*)' AND '([^']*)'/.exec(sql) ?? /curve_key = '([^']*)'/.exec(sql);
      const [from, to] = [range?.[1] as string, (range?.[2] ?? range?.[1]) as string];
      const rows = data
        .filter(([m, c]) => m === metric && byCodePoint(c as string, from) >= 0 && byCodePoint(c as string, to) <= 0)
        .reverse()
        .map((r) => selected.map((name) => r[NAMES.indexOf(name)]));
      if (opts.drop === n) rows.pop();
      yield { queryId: `q${n}`, columns, rows: rows.slice(0, 2) };
      yield { queryId: `q${n}`, columns, rows: rows.slice(2) };
      return { queryId: `q${n}`, columns };
    },
  };
  return { client, statements, aborted };
}

const DATA = ["mid", "npv"].flatMap((m) => ["C1", "C2", "C3", "C4"].flatMap((c) => ["2027-01-01", "2027-02-01", "2027-03-01"].map((d) => [m, c, "MONTHLY", d, "vh1"])));
const request = (extra: Partial<ExportRequest> = {}): ExportRequest => ({ format: "csv", escapeFormulas: false, signal: new AbortController().signal, ...extra });
const options = (client: TrinoClient) => ({
  trino: client,
  table: "iceberg.market.scenario_output",
  columns: NAMES.map((name) => ({ name, sql: name })),
  fixed: {},
  constants: ["version_hash"],
  chunkRows: 6,
  prefetch: 2,
});
/** Every row of the pages, whole again: the columns a page left out come from its `fixed`. */
const drain = async (pages: AsyncGenerator<ChunkPage>) => {
  const rows: unknown[][] = [];
  for await (const p of pages) {
    for (const r of p.rows) rows.push(NAMES.map((name) => (name in p.fixed ? p.fixed[name] : r[p.columns.findIndex((c) => c.name === name)])));
  }
  return rows;
};
const selectList = (statement: string) => /^SELECT (.*?) FROM/.exec(statement)?.[1];

describe("chunkedExport", () => {
  test("every row once, in key order, from unordered chunk queries on the pinned snapshot", async () => {
    const { client, statements } = scripted(DATA);
    expect(await drain(chunkedExport(options(client), FILTER, request()))).toEqual(DATA);
    const [snapshot, plan, ...chunks] = statements;
    expect(snapshot).toContain('"scenario_output$history"');
    expect(plan).toContain("GROUP BY metric, curve_key ORDER BY metric, curve_key");
    expect(chunks).toHaveLength(4); // 2 metrics × 4 curves of 3 rows, 6 rows a chunk
    for (const s of [plan, ...chunks]) expect(s).toContain("FOR VERSION AS OF 8817267612612615237");
    for (const s of chunks) expect(s).not.toContain("ORDER BY");
    // The chunk's metric and the run's one version hash are not read again for every row.
    for (const s of chunks) expect(selectList(s)).toBe("curve_key, tenor_type, contract_month");
  });

  test("a column that is not one value for the whole export is read with every row", async () => {
    const data = DATA.map((r, i) => (i === 7 ? [...r.slice(0, 4), "vh2"] : r));
    const { client, statements } = scripted(data);
    expect(await drain(chunkedExport(options(client), FILTER, request()))).toEqual(data);
    for (const s of statements.slice(2)) expect(selectList(s)).toBe("curve_key, tenor_type, contract_month, version_hash");
  });

  test("a limit stops at that many rows", async () => {
    const { client } = scripted(DATA);
    expect(await drain(chunkedExport(options(client), FILTER, request({ limit: 8 })))).toEqual(DATA.slice(0, 8));
  });

  test("a chunk whose rows differ from the plan's count fails the export", async () => {
    const { client } = scripted(DATA, { drop: 1 });
    await expect(drain(chunkedExport(options(client), FILTER, request()))).rejects.toThrow("5 rows, the plan counted 6");
  });

  test("a consumer that leaves after the first chunk aborts the chunk queries in flight", async () => {
    const { client, statements, aborted } = scripted(DATA, { hold: true });
    for await (const page of chunkedExport(options(client), FILTER, request())) {
      expect(page.rows.map((r) => r[0])).toEqual(DATA.slice(0, 6).map((r) => r[1]));
      break;
    }
    // Chunks 2 and 3 were in flight (prefetch 2), chunk 4 never asked for.
    expect(aborted).toHaveLength(2);
    expect(statements.filter((s) => s.includes("curve_key BETWEEN") || s.includes("curve_key ="))).toHaveLength(3);
  });

  test("the request's signal aborts the chunk queries in flight", async () => {
    const { client, aborted } = scripted(DATA, { hold: true });
    const abort = new AbortController();
    const pages = chunkedExport(options(client), FILTER, request({ signal: abort.signal }));
    await pages.next();
    abort.abort(new Error("client left"));
    await expect(pages.next()).rejects.toThrow("cancelled");
    await Bun.sleep(0);
    expect(aborted).toHaveLength(2);
  });
});
