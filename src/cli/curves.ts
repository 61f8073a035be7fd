/** `aurum curves import FILE.csv`: the file streamed as the body of POST /v1/curves:import. */
import type { Command } from "./command";
import { usageError } from "./errors";
import { count, printFields, printJson } from "./print";

const importCurves: Command = {
  name: "curves import",
  args: ["FILE"],
  summary: "Import curve observations from a CSV file (header curve_key,market,location,product,block,unit,asof_date,contract_month,mid).",
  async run({ api, args, json }) {
    const path = args[0] as string;
    const file = Bun.file(path);
    if (!(await file.exists())) throw usageError(`cannot read ${path}: no such file`);
    // A BunFile body is streamed from disk, never read into memory.
    const { data } = await api.call<{ rows: number; curves: number; inserted: number; updated: number }>("POST", "v1/curves:import", {
      body: file,
      headers: { "content-type": "text/csv" },
      timeoutMs: 0,
    });
    if (json) return printJson(data);
    process.stdout.write(`imported ${count(data.rows)} rows of ${count(data.curves)} curves from ${path}\n`);
    printFields(data);
  },
};

export const curveCommands = [importCurves];
