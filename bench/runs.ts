/** Runs benchmark, standalone: `bun bench/runs.ts [--repeats 5] [--runs-small 40] [--runs-curves 40] [--runs-sections pool,short,ingest,kafka,delete,maintain,claim] [--runs-maintain-snapshot-retention 0s]`. The harness's suite: bench/suites/runs.ts. */
import { parseArgs } from "node:util";
import { printSuite } from "./lib/table";
import { runsSuite } from "./suites/runs";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "5" },
    "runs-small": { type: "string" },
    "runs-curves": { type: "string" },
    "runs-sections": { type: "string" },
    "runs-maintain-snapshot-retention": { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const result = await runsSuite({ quick: values.quick, repeats: Number(values.repeats), flags: values, log: (l) => console.error(l) });
console.log(printSuite(result));
