/** `aurum outputs SCENARIO` (a table, JSON pages, or a resumable CSV/NDJSON download), `aurum metrics SCENARIO` and `aurum compare SCENARIO`. */
import type { CompareRow, OutputRow } from "../outputs/row";
import type { ApiClient, Query } from "./client";
import type { Command } from "./command";
import { int, pairs, str } from "./command";
import { downloadExport, type ExportFormat } from "./download";
import { usageError } from "./errors";
import { count, printJson, printTable } from "./print";

const FORMATS = ["json", "csv", "ndjson"] as const;
const PAGE = 1000;

type Row = Pick<OutputRow, "curve_key" | "tenor_type" | "contract_month" | "tenor_label" | "metric" | "value" | "band_lower" | "band_upper">;

/** Every row of a paged list (`meta.next_cursor`), at most `limit`. */
async function* pages<T>(api: ApiClient, path: string, query: Query, limit: number | undefined): AsyncGenerator<T[]> {
  let remaining = limit ?? Number.POSITIVE_INFINITY;
  let cursor: string | undefined;
  while (remaining > 0) {
    const page = await api.call<T[]>("GET", path, { query: { ...query, limit: Math.min(PAGE, remaining), cursor } });
    remaining -= page.data.length;
    yield page.data;
    cursor = page.meta.next_cursor ?? undefined;
    if (!cursor) return;
  }
}

const ROW_COLUMNS: [string, (r: Row) => unknown][] = [
  ["CURVE", (r) => r.curve_key],
  ["TENOR", (r) => r.tenor_label],
  ["MONTH", (r) => r.contract_month],
  ["METRIC", (r) => r.metric],
  ["VALUE", (r) => r.value],
  ["LOWER", (r) => r.band_lower],
  ["UPPER", (r) => r.band_upper],
];

const FILTER_HELP = `  --filter NAME=VALUE  an API filter, repeatable: metric, curve_key, tenor_type, asof_date, asof_date_from,
                       asof_date_to, contract_month, contract_month_from, contract_month_to
  --limit N            at most N rows (default: all)`;

const outputs: Command = {
  name: "outputs",
  args: ["SCENARIO"],
  summary: "A run's outputs (default: the latest SUCCEEDED run): a table, JSON, or a CSV/NDJSON download with progress.",
  options: {
    format: { type: "string" },
    output: { type: "string", short: "o" },
    resume: { type: "boolean" },
    run: { type: "string" },
    filter: { type: "string", multiple: true },
    limit: { type: "string" },
  },
  help: `  --format F           json (pages through the API), csv or ndjson (the streamed export); default: a table, or JSON with --json
  -o, --output FILE    write to FILE instead of stdout (the format follows a .csv, .json, .ndjson or .jsonl name)
  --resume             csv/ndjson: continue an interrupted download of FILE (see docs/cli.md)
  --run RUN            this run instead of the latest SUCCEEDED one
${FILTER_HELP}`,
  async run({ api, values, args, json }) {
    const scenarioId = args[0] as string;
    const file = str(values, "output");
    const format = str(values, "format")?.toLowerCase() ?? (file ? formatOf(file) : undefined);
    if (format !== undefined && !(FORMATS as readonly string[]).includes(format)) throw usageError(`--format must be one of ${FORMATS.join(", ")}, not ${format}`);
    const runId = str(values, "run");
    const filters = pairs(values, "filter");
    const limit = int(values, "limit", 1);
    if (values.resume && !(file && (format === "csv" || format === "ndjson"))) throw usageError("--resume needs --format csv or ndjson and -o FILE");
    if (["format", "cursor", "limit", "run_id", "escape_formulas"].some((k) => k in filters)) throw usageError("--filter takes filters only; use --format, --limit and --run");

    if (format === "csv" || format === "ndjson") {
      const summary = await downloadExport(api, { scenarioId, format: format as ExportFormat, filters, runId, limit }, file ?? null, Boolean(values.resume));
      if (json) printJson(summary);
      return;
    }
    const rows = pages<Row>(api, `v1/scenarios/${encodeURIComponent(scenarioId)}/outputs`, { ...filters, run_id: runId, format: "json" }, limit);
    if (format === "json" || json) {
      const n = await writeJsonArray(rows, file);
      if (file) process.stderr.write(`${file}: ${count(n)} rows\n`);
      return;
    }
    const all: Row[] = [];
    for await (const page of rows) all.push(...page);
    printTable(all, ROW_COLUMNS);
    process.stderr.write(`${count(all.length)} rows\n`);
  },
};

/** The format a file name asks for (`out.csv`), when --format is not given. */
function formatOf(file: string): string {
  const ext = file.toLowerCase().split(".").pop();
  if (ext === "csv" || ext === "json" || ext === "ndjson") return ext;
  if (ext === "jsonl") return "ndjson";
  throw usageError(`which format for ${file}? give --format json, csv or ndjson`);
}

/** A JSON array written page by page, so a large read never sits in memory whole; returns the row count. */
async function writeJsonArray(pagesOfRows: AsyncIterable<unknown[]>, file: string | undefined): Promise<number> {
  const writer = file ? Bun.file(file).writer() : Bun.stdout.writer();
  let rows = 0;
  writer.write("[");
  for await (const page of pagesOfRows) {
    for (const row of page) writer.write(`${rows++ ? ",\n" : "\n"}${JSON.stringify(row)}`);
    await writer.flush();
  }
  writer.write(rows ? "\n]\n" : "]\n");
  await writer.end();
  return rows;
}

const metrics: Command = {
  name: "metrics",
  args: ["SCENARIO"],
  summary: "The latest value per curve, tenor and metric across the scenario's SUCCEEDED runs (GET .../metrics/latest).",
  options: { run: { type: "string" }, filter: { type: "string", multiple: true }, limit: { type: "string" } },
  help: `  --run RUN            only this run's rows
${FILTER_HELP}`,
  async run({ api, values, args, json }) {
    const query = { ...pairs(values, "filter"), run_id: str(values, "run") };
    const rows: (Row & { run_id: string; asof_date: string })[] = [];
    for await (const page of pages<(typeof rows)[number]>(api, `v1/scenarios/${encodeURIComponent(args[0] as string)}/metrics/latest`, query, int(values, "limit", 1)))
      rows.push(...page);
    if (json) return printJson(rows);
    printTable(rows, [...ROW_COLUMNS, ["ASOF", (r) => r.asof_date], ["RUN", (r) => r.run_id]]);
  },
};

const compare: Command = {
  name: "compare",
  args: ["SCENARIO"],
  summary: "A run against another scenario's run or its no-driver baseline: a, b, delta, delta_pct per key (GET .../compare).",
  options: {
    with: { type: "string" },
    run: { type: "string" },
    "with-run": { type: "string" },
    filter: { type: "string", multiple: true },
    limit: { type: "string" },
  },
  help: `  --with OTHER|baseline  side b: another scenario of the tenant, or the run's own no-driver baseline (required)
  --run RUN              run a instead of the scenario's latest SUCCEEDED one
  --with-run RUN         run b instead of OTHER's latest SUCCEEDED one
  --filter NAME=VALUE    an API filter, repeatable: metric, curve_key, tenor_type, contract_month, contract_month_from, contract_month_to
  --limit N              at most N rows (default: all)`,
  async run({ api, values, args, json }) {
    const other = str(values, "with");
    if (!other) throw usageError("--with OTHER_SCENARIO or --with baseline is required");
    const filters = pairs(values, "filter");
    if (["format", "cursor", "limit", "run_id", "with", "with_run_id", "escape_formulas"].some((k) => k in filters)) {
      throw usageError("--filter takes filters only; use --with, --run, --with-run and --limit");
    }
    const query = { ...filters, with: other, run_id: str(values, "run"), with_run_id: str(values, "with-run"), format: "json" };
    const rows = pages<CompareRow>(api, `v1/scenarios/${encodeURIComponent(args[0] as string)}/compare`, query, int(values, "limit", 1));
    if (json) {
      await writeJsonArray(rows, undefined);
      return;
    }
    const all: CompareRow[] = [];
    for await (const page of rows) all.push(...page);
    printTable(all, [
      ["CURVE", (r) => r.curve_key],
      ["TENOR", (r) => r.tenor_label],
      ["MONTH", (r) => r.contract_month],
      ["METRIC", (r) => r.metric],
      ["A", (r) => r.a],
      ["B", (r) => r.b],
      ["DELTA", (r) => r.delta],
      ["DELTA_PCT", (r) => r.delta_pct],
    ]);
    process.stderr.write(`${count(all.length)} rows\n`);
  },
};

export const outputCommands = [outputs, metrics, compare];
