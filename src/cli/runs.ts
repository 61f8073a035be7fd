/** `aurum run SCENARIO [--wait]` and `aurum runs list|get|cancel`. */
import type { ApiClient } from "./client";
import type { Command } from "./command";
import { int, pairs, str } from "./command";
import { EXIT } from "./errors";
import { count, percent, printFields, printJson, printTable, StatusLine, seconds } from "./print";
import { parseJsonFile, readInput } from "./scenarios";

type Run = {
  id: string;
  scenario_id: string;
  state: string;
  priority: string;
  attempts: number;
  progress: number;
  rows_written: number;
  error: { code?: string; message?: string } | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  [key: string]: unknown;
};

const FINAL_STATES = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const SHOWN = [
  "id",
  "scenario_id",
  "state",
  "priority",
  "code_version",
  "seed",
  "parameters",
  "asof_date",
  "attempts",
  "progress",
  "rows_written",
  "error",
  "run_key",
  "created_at",
  "started_at",
  "finished_at",
];

/** A run for people: its overrides, its as-of date (from its stored inputs) and its progress as a percentage. */
function printRun(run: Run): undefined {
  const inputs = run.inputs as { asof_date?: string } | null | undefined;
  return printFields({ ...run, asof_date: inputs?.asof_date ?? null }, SHOWN, { progress: percent });
}

const runPath = (scenarioId: string, runId: string) => `v1/scenarios/${encodeURIComponent(scenarioId)}/runs/${encodeURIComponent(runId)}`;
const exitCodeOf = (run: Run) => (run.state === "SUCCEEDED" ? EXIT.OK : EXIT.FAILED);

const WAIT_OPTIONS = {
  wait: { type: "boolean" },
  interval: { type: "string" },
  "cancel-on-interrupt": { type: "boolean" },
} as const;
const WAIT_HELP = `  --wait                 follow the run until it ends; exit 0 if it SUCCEEDED, 1 if FAILED or CANCELLED
  --interval MS          poll every MS milliseconds while waiting (default 500)
  --cancel-on-interrupt  Ctrl-C while waiting also cancels the run (by default the run goes on)`;

/**
 * Polls the run until it is SUCCEEDED, FAILED or CANCELLED, showing a status line on stderr.
 * Ctrl-C exits 130 and leaves the run alone, unless `cancelOnInterrupt`.
 */
export async function waitForRun(api: ApiClient, run: Run, opts: { intervalMs: number; cancelOnInterrupt: boolean }): Promise<Run> {
  const status = new StatusLine();
  const started = performance.now();
  let interrupted = false;
  const onInterrupt = async () => {
    if (interrupted) process.exit(EXIT.INTERRUPTED);
    interrupted = true;
    status.clear();
    if (opts.cancelOnInterrupt) {
      process.stderr.write(`interrupted: cancelling run ${run.id}\n`);
      await api.call("POST", `v1/scenarios/runs/${run.id}/cancel`).catch((err) => process.stderr.write(`error: the cancel failed: ${(err as Error).message}\n`));
    } else {
      process.stderr.write(`interrupted: run ${run.id} goes on; follow it with: aurum runs get ${run.scenario_id} ${run.id} --wait\n`);
    }
    process.exit(EXIT.INTERRUPTED);
  };
  process.on("SIGINT", onInterrupt);
  try {
    let current = run;
    for (;;) {
      if (FINAL_STATES.has(current.state)) break;
      const pct = Math.floor(current.progress * 100);
      const attempt = current.attempts > 1 ? ` · attempt ${current.attempts}` : "";
      status.update(
        `run ${current.id} ${current.state} ${pct}%${attempt} · ${seconds(performance.now() - started)}`,
        `${current.state} ${Math.floor(pct / 10)} ${current.attempts}`,
      );
      await Bun.sleep(opts.intervalMs);
      current = (await api.call<Run>("GET", runPath(current.scenario_id, current.id))).data;
    }
    status.done(summary(current));
    return current;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

function summary(run: Run): string {
  const took = run.started_at && run.finished_at ? ` in ${seconds(Date.parse(run.finished_at) - Date.parse(run.started_at))}` : "";
  if (run.state === "SUCCEEDED") return `run ${run.id} SUCCEEDED${took} · ${count(run.rows_written)} rows`;
  const why = run.error ? `: ${[run.error.code, run.error.message].filter(Boolean).join(": ")}` : "";
  return `run ${run.id} ${run.state}${took}${why}`;
}

/** `--set key=value` values are JSON when they parse as JSON (numbers, arrays), else strings. */
function parameterOverrides(raw: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => {
      try {
        return [k, JSON.parse(v)];
      } catch {
        return [k, v];
      }
    }),
  );
}

const trigger: Command = {
  name: "run",
  args: ["SCENARIO"],
  summary: "Trigger a run of a scenario (POST /v1/scenarios/{id}/run); with --wait, follow it to the end.",
  options: {
    ...WAIT_OPTIONS,
    file: { type: "string", short: "f" },
    priority: { type: "string" },
    seed: { type: "string" },
    "code-version": { type: "string" },
    "idempotency-key": { type: "string" },
    set: { type: "string", multiple: true },
  },
  help: `${WAIT_HELP}
  -f, --file FILE        run options as JSON (ScenarioRunOptions); the flags below override it
  --priority P           LOW, NORMAL, HIGH or CRITICAL
  --seed N               Monte Carlo seed
  --code-version V       model code version
  --idempotency-key K    the same key returns the run it created
  --set KEY=VALUE        override a model parameter (repeatable; VALUE is JSON if it parses)`,
  async run({ api, values, args, json }) {
    const file = str(values, "file");
    const options = (file ? parseJsonFile(await readInput(file), file) : {}) as Record<string, unknown>;
    const overrides = parameterOverrides(pairs(values, "set"));
    const body = {
      ...options,
      ...(values.priority ? { priority: str(values, "priority") } : {}),
      ...(values.seed ? { seed: int(values, "seed", 0) } : {}),
      ...(values["code-version"] ? { code_version: str(values, "code-version") } : {}),
      ...(values["idempotency-key"] ? { idempotency_key: str(values, "idempotency-key") } : {}),
      ...(Object.keys(overrides).length ? { parameters: { ...(options.parameters as object), ...overrides } } : {}),
    };
    const intervalMs = int(values, "interval", 50) ?? 500;
    const { data, meta } = await api.call<Run>("POST", `v1/scenarios/${encodeURIComponent(args[0] as string)}/run`, { json: body });
    if (!values.wait) {
      if (json) return printJson(data);
      const dedup = meta.deduplicated ? ` (an existing run: same ${meta.deduplicated})` : "";
      process.stdout.write(`run ${data.id} ${data.state}${dedup}\n`);
      return;
    }
    if (meta.deduplicated) process.stderr.write(`following an existing run (same ${meta.deduplicated})\n`);
    const final = await waitForRun(api, data, { intervalMs, cancelOnInterrupt: Boolean(values["cancel-on-interrupt"]) });
    if (json) printJson(final);
    return exitCodeOf(final);
  },
};

const list: Command = {
  name: "runs list",
  args: ["SCENARIO"],
  summary: "List a scenario's runs, newest first.",
  options: { limit: { type: "string" }, cursor: { type: "string" }, state: { type: "string" } },
  help: `  --limit N   runs per page, 1..200 (default 20)
  --cursor C  continue after a previous page
  --state S   QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED`,
  async run({ api, values, args, json }) {
    const page = await api.call<Run[]>("GET", `v1/scenarios/${encodeURIComponent(args[0] as string)}/runs`, {
      query: { limit: int(values, "limit", 1, 200), cursor: str(values, "cursor"), state: str(values, "state") },
    });
    if (json) return printJson(page.data);
    printTable(page.data, [
      ["ID", (r) => r.id],
      ["STATE", (r) => r.state],
      ["PRIORITY", (r) => r.priority],
      ["PROGRESS", (r) => percent(r.progress)],
      ["ROWS", (r) => r.rows_written],
      ["ATTEMPTS", (r) => r.attempts],
      ["CREATED", (r) => r.created_at],
      ["FINISHED", (r) => r.finished_at],
    ]);
    if (page.meta.next_cursor) process.stderr.write(`more: --cursor ${page.meta.next_cursor}\n`);
  },
};

const get: Command = {
  name: "runs get",
  args: ["SCENARIO", "RUN"],
  summary: "Show one run; with --wait, follow it to the end.",
  options: WAIT_OPTIONS,
  help: WAIT_HELP,
  async run({ api, values, args, json }) {
    const { data } = await api.call<Run>("GET", runPath(args[0] as string, args[1] as string));
    if (!values.wait) return json ? printJson(data) : printRun(data);
    const final = await waitForRun(api, data, { intervalMs: int(values, "interval", 50) ?? 500, cancelOnInterrupt: Boolean(values["cancel-on-interrupt"]) });
    if (json) printJson(final);
    return exitCodeOf(final);
  },
};

const cancel: Command = {
  name: "runs cancel",
  args: ["RUN"],
  summary: "Cancel a QUEUED or RUNNING run (a RUNNING one stops within seconds).",
  async run({ api, args, json }) {
    const { data } = await api.call<Run>("POST", `v1/scenarios/runs/${encodeURIComponent(args[0] as string)}/cancel`);
    if (json) return printJson(data);
    process.stdout.write(`run ${data.id} ${data.state}${data.cancel_requested && data.state !== "CANCELLED" ? " (cancel requested)" : ""}\n`);
  },
};

export const runCommands = [trigger, list, get, cancel];
