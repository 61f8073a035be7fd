/** The one output-row definition (src/outputs/row.ts) against both stores' DDL and the API row. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Value } from "@sinclair/typebox/value";
import { CSV_HEADER } from "../../../src/outputs/encoders";
import { BATCH_COLUMNS, field, KEY_COLUMNS, OUTPUT_COLUMNS, OUTPUT_TABLE, OutputRowSchema, RUN_COLUMNS, TABLE_COLUMNS } from "../../../src/outputs/row";

/** Columns of a CREATE TABLE as [name, type, not null]; constraint lines are left out. */
function ddlColumns(path: string, table: string): [string, string, boolean][] {
  const text = readFileSync(path, "utf8");
  const body = text.slice(text.indexOf(`${table} (`) + table.length + 2);
  const lines = body.slice(0, body.search(/\n\)/)).split("\n");
  return lines
    .map((l) => l.replace(/--.*$/, "").trim().replace(/,$/, ""))
    .filter((l) => /^[a-z_]+\s/.test(l) && !l.startsWith("primary key"))
    .map((l) => {
      const [, name, rest] = /^([a-z_]+)\s+(.*)$/.exec(l) as RegExpExecArray;
      return [name as string, (rest as string).replace(/\s+(not null|references).*$/, "").trim(), /\bnot null\b/.test(rest as string)];
    });
}

const PG_TYPES = { text: "text", uuid: "uuid", date: "date", double: "double precision", attribution: "jsonb", timestamp: "timestamptz" };
const TRINO_TYPES = { text: "varchar", uuid: "varchar", date: "date", double: "double", attribution: "varchar", timestamp: "timestamp(6) with time zone" };

describe("the output row definition", () => {
  test("is the Postgres table: every column, in order, of its kind's type, null where the API row allows null", () => {
    const ddl = ddlColumns("ddl/postgres/003_runs.sql", "create table scenario_output");
    expect(ddl.map(([name]) => name)).toEqual([...TABLE_COLUMNS]);
    for (const [name, type, notNull] of ddl) {
      const column = OUTPUT_TABLE[name as keyof typeof OUTPUT_TABLE];
      expect([name, type]).toEqual([name, PG_TYPES[column.kind]]);
      if ("api" in column) expect([name, Value.Check(column.api, null)]).toEqual([name, !notNull]);
    }
  });

  test("is the Iceberg table, which adds write_id", () => {
    const ddl = ddlColumns("trino/ddl/iceberg_market.sql", "CREATE TABLE IF NOT EXISTS iceberg.market.scenario_output");
    expect(ddl.map(([name]) => name)).toEqual([...TABLE_COLUMNS, "write_id"]);
    for (const [name, type] of ddl.slice(0, -1)) expect([name, type]).toEqual([name, TRINO_TYPES[OUTPUT_TABLE[name as keyof typeof OUTPUT_TABLE].kind]]);
  });

  test("gives the API row its columns in order: schema, CSV header", () => {
    expect(Object.keys(OutputRowSchema.properties)).toEqual([...OUTPUT_COLUMNS]);
    expect(CSV_HEADER).toBe("scenario_id,run_id,asof_date,curve_key,tenor_type,contract_month,tenor_label,metric,value,band_lower,band_upper,attribution,version_hash\n");
  });

  test("splits the columns a write takes from the run and from the batch, and names their camelCase keys", () => {
    expect([...RUN_COLUMNS, ...BATCH_COLUMNS].sort()).toEqual([...TABLE_COLUMNS].sort());
    expect(RUN_COLUMNS.map(field)).toEqual(["tenantId", "scenarioId", "runId", "asofDate", "versionHash", "computedTs"]);
    expect(BATCH_COLUMNS.map(field)).toEqual(["curveKey", "tenorType", "contractMonth", "tenorLabel", "metric", "value", "bandLower", "bandUpper", "attribution"]);
  });

  test("its key is the primary key after run_id", () => {
    expect(readFileSync("ddl/postgres/003_runs.sql", "utf8")).toContain(`primary key (run_id, ${KEY_COLUMNS.join(", ")})`);
  });
});
