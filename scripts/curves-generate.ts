/**
 * `npm run curves:generate -- --curves N --months M [--asof YYYY-MM-DD] [--seed S] [-o FILE]`:
 * writes a deterministic synthetic curve universe as import-ready CSV (stdout by default).
 */
import { parseArgs } from "node:util";
import { CSV_COLUMNS } from "../src/curves/model";
import { curveObservations, syntheticCurves } from "../src/curves/sample";

const { values } = parseArgs({
  options: {
    curves: { type: "string", default: "100" },
    months: { type: "string", default: "360" },
    asof: { type: "string", default: "2026-01-02" },
    seed: { type: "string", default: "7" },
    output: { type: "string", short: "o" },
  },
});
const curves = Number(values.curves);
const months = Number(values.months);
if (!Number.isInteger(curves) || curves < 1 || !Number.isInteger(months) || months < 1 || !/^\d{4}-\d{2}-\d{2}$/.test(values.asof)) {
  console.error("usage: curves:generate -- --curves N --months M [--asof YYYY-MM-DD] [--seed S] [-o FILE]");
  process.exit(2);
}

const specs = syntheticCurves(curves, Number(values.seed));
const byKey = new Map(specs.map((s) => [s.curveKey, s]));
const sink = values.output ? Bun.file(values.output).writer() : Bun.stdout.writer();
sink.write(`${CSV_COLUMNS.join(",")}\n`);
let rows = 0;
for (const b of curveObservations(specs, values.asof, months, Number(values.seed))) {
  let chunk = "";
  for (let i = 0; i < b.line.length; i++) {
    const s = byKey.get(b.curveKey[i] as string);
    if (!s) continue;
    chunk += `${s.curveKey},${s.market},"${s.location}",${s.product},${s.block},${s.unit},${b.asofDate[i]},${(b.contractMonth[i] as string).slice(0, 7)},${b.mid[i]}\n`;
  }
  rows += b.line.length;
  sink.write(chunk);
}
await sink.end();
if (values.output) console.error(`wrote ${rows} rows for ${curves} curves × ${months} months to ${values.output}`);
