/** `aurum scenarios list|create|get|delete`. */
import type { Command, Context } from "./command";
import { int, str } from "./command";
import { usageError } from "./errors";
import { printFields, printJson, printTable } from "./print";

type Scenario = { id: string; tenant_id: string; name: string; status: string; version: number; tags: string[]; created_at: string; [key: string]: unknown };

const SHOWN = ["id", "tenant_id", "name", "description", "status", "version", "tags", "parameters", "assumptions", "created_by", "created_at", "updated_at"];

/** A scenario for people: each assumption starts with its driver type (the database keeps keys in its own order). */
function printScenario(s: Scenario): undefined {
  const assumptions = Array.isArray(s.assumptions)
    ? (s.assumptions as { driver_type?: unknown; payload?: unknown }[]).map(({ driver_type, payload, ...rest }) => ({ driver_type, payload, ...rest }))
    : s.assumptions;
  return printFields({ ...s, assumptions }, SHOWN);
}

/** The text of a file argument; `-` is stdin. A missing file is a usage error. */
export async function readInput(path: string): Promise<string> {
  if (path === "-") return Bun.stdin.text();
  const file = Bun.file(path);
  if (!(await file.exists())) throw usageError(`cannot read ${path}: no such file`);
  return file.text();
}

export function parseJsonFile(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

const list: Command = {
  name: "scenarios list",
  args: [],
  summary: "List scenarios, newest first.",
  options: {
    limit: { type: "string" },
    cursor: { type: "string" },
    all: { type: "boolean" },
    name: { type: "string" },
    tag: { type: "string" },
    status: { type: "string" },
  },
  help: `  --limit N        scenarios per page, 1..200 (default 20)
  --cursor C       continue after a previous page
  --all            follow every page
  --name TEXT      name contains TEXT
  --tag TAG        has this tag
  --status S       draft, active or archived`,
  async run({ api, values, json }: Context) {
    const query = { limit: int(values, "limit", 1, 200), name: str(values, "name"), tag: str(values, "tag"), status: str(values, "status") };
    let cursor = str(values, "cursor");
    const rows: Scenario[] = [];
    for (;;) {
      const page = await api.call<Scenario[]>("GET", "v1/scenarios", { query: { ...query, cursor } });
      rows.push(...page.data);
      cursor = page.meta.next_cursor ?? undefined;
      if (!cursor || !values.all) break;
    }
    if (json) return printJson(rows);
    printTable(rows, [
      ["ID", (s) => s.id],
      ["NAME", (s) => s.name],
      ["STATUS", (s) => s.status],
      ["VERSION", (s) => s.version],
      ["TENANT", (s) => s.tenant_id],
      ["TAGS", (s) => s.tags],
      ["CREATED", (s) => s.created_at],
    ]);
    if (cursor) process.stderr.write(`more: --cursor ${cursor} (or --all)\n`);
  },
};

const create: Command = {
  name: "scenarios create",
  args: [],
  summary: "Create a scenario from a JSON file (the body of POST /v1/scenarios).",
  options: { file: { type: "string", short: "f" } },
  help: "  -f, --file FILE  the scenario as JSON; - reads stdin (required)",
  async run({ api, values, json }) {
    const path = str(values, "file");
    if (!path) throw usageError("scenarios create needs -f FILE", "e.g. aurum scenarios create -f scenario.json");
    const body = parseJsonFile(await readInput(path), path);
    const { data } = await api.call<Scenario>("POST", "v1/scenarios", { json: body });
    if (json) return printJson(data);
    printScenario(data);
  },
};

const get: Command = {
  name: "scenarios get",
  args: ["SCENARIO"],
  summary: "Show one scenario.",
  async run({ api, args, json }) {
    const { data } = await api.call<Scenario>("GET", `v1/scenarios/${encodeURIComponent(args[0] as string)}`);
    if (json) return printJson(data);
    printScenario(data);
  },
};

const remove: Command = {
  name: "scenarios delete",
  args: ["SCENARIO"],
  summary: "Delete a scenario with its runs and outputs.",
  async run({ api, args, json }) {
    const id = args[0] as string;
    await api.call("DELETE", `v1/scenarios/${encodeURIComponent(id)}`);
    if (json) return printJson({ id, deleted: true });
    process.stdout.write(`deleted scenario ${id}\n`);
  },
};

export const scenarioCommands = [list, create, get, remove];
