/**
 * How a command is declared and how a command line finds it: the leading words pick the command
 * (`scenarios list`), then node:util `parseArgs` reads the global and the command's options strictly.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { ApiClient, ClientConfig } from "./client";
import { usageError } from "./errors";

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export type Context = {
  api: ApiClient;
  values: Values;
  /** The command's positional arguments, in the order of `Command.args`. */
  args: string[];
  json: boolean;
};

export type Command = {
  /** The words that select it, e.g. "scenarios list". */
  name: string;
  /** Positional arguments; a trailing `?` marks an optional one. */
  args: string[];
  summary: string;
  /** Option lines for `--help`, already aligned. */
  help?: string;
  options?: Options;
  /** Returns the exit code (0 when nothing is returned). */
  run(ctx: Context): Promise<number | undefined>;
};

export const DEFAULT_URL = "http://localhost:8095";

export const GLOBAL_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  tenant: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

export const GLOBAL_HELP = `global options:
  --url URL          the API (env AURUM_URL, default ${DEFAULT_URL})
  --token TOKEN      a bearer token (env AURUM_TOKEN)
  --tenant TENANT    X-Aurum-Tenant header, for the trusted local mode (env AURUM_TENANT)
  --timeout SECONDS  wait this long for an answer (default 30)
  --json             print the API's data as JSON (for scripts)
  -h, --help         this help`;

export type Parsed = { command: Command; values: Values; args: string[] };

/** Finds the command named by the leading words of `argv` and parses the rest; null when no words name one (help). */
export function parseCommandLine(commands: Command[], argv: string[]): Parsed | null {
  const loose = parseArgs({ args: argv, options: GLOBAL_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const words = loose.tokens.filter((t) => t.kind === "positional");
  const command = commands.filter((c) => c.name.split(" ").every((w, i) => words[i]?.value === w)).sort((a, b) => b.name.length - a.name.length)[0];
  if (!command) {
    if (words.length === 0) return null;
    const group = commands.filter((c) => c.name.startsWith(`${words[0]?.value} `));
    if (group.length && loose.values.help) return null;
    if (group.length) throw usageError(`${words[0]?.value}: expected one of ${group.map((c) => c.name.split(" ")[1]).join(", ")}`, `see: aurum ${words[0]?.value} --help`);
    throw usageError(`unknown command: ${words[0]?.value}`, "see: aurum --help");
  }
  const skip = new Set(words.slice(0, command.name.split(" ").length).map((t) => t.index));
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv.filter((_, i) => !skip.has(i)),
      options: { ...GLOBAL_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw usageError((err as Error).message.split(". To specify")[0] ?? String(err), `see: aurum ${command.name} --help`);
  }
  if (parsed.values.help) return { command, values: parsed.values, args: [] };
  const required = command.args.filter((a) => !a.endsWith("?")).length;
  if (parsed.positionals.length < required || parsed.positionals.length > command.args.length) {
    throw usageError(`usage: aurum ${command.name} ${argLine(command)}`.trim(), `see: aurum ${command.name} --help`);
  }
  return { command, values: parsed.values, args: parsed.positionals };
}

const argLine = (c: Command) => c.args.map((a) => (a.endsWith("?") ? `[${a.slice(0, -1)}]` : a)).join(" ");

export function commandHelp(c: Command): string {
  return [`usage: aurum ${c.name} ${argLine(c)}${c.options ? " [options]" : ""}`, "", c.summary, ...(c.help ? ["", "options:", c.help] : []), "", GLOBAL_HELP].join("\n");
}

export function overallHelp(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => `${c.name} ${argLine(c)}`.length));
  const lines = commands.map((c) => `  aurum ${`${c.name} ${argLine(c)}`.padEnd(width)}  ${c.summary.split("\n")[0]}`);
  return [
    "aurum: the command-line client of Aurum Scenarios",
    "",
    "commands:",
    ...lines,
    "",
    GLOBAL_HELP,
    "",
    "exit codes: 0 success, 1 run failed or cancelled, 2 usage error, 3 API error, 4 server unreachable, 130 interrupted",
    "more: docs/cli.md, or aurum COMMAND --help",
  ].join("\n");
}

/** Server URL, token and tenant: a flag wins over the environment, which wins over the default. */
export function resolveConfig(values: Values, env: Record<string, string | undefined>): ClientConfig {
  const url = str(values, "url") ?? env.AURUM_URL ?? DEFAULT_URL;
  try {
    const parsed = new URL(url);
    if (!/^https?:$/.test(parsed.protocol)) throw new Error();
  } catch {
    throw usageError(`not an http(s) URL: ${url}`);
  }
  const timeout = str(values, "timeout");
  const seconds = timeout === undefined ? 30 : Number(timeout);
  if (!(seconds > 0)) throw usageError(`--timeout must be a number of seconds > 0, not ${timeout}`);
  return { url, token: str(values, "token") ?? (env.AURUM_TOKEN || undefined), tenant: str(values, "tenant") ?? (env.AURUM_TENANT || undefined), timeoutMs: seconds * 1000 };
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function int(values: Values, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw usageError(`--${name} must be an integer ${min}..${max}, not ${v}`);
  return n;
}

/** Repeated `--name key=value` options as an object. */
export function pairs(values: Values, name: string): Record<string, string> {
  const raw = values[name];
  const list = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : [];
  const out: Record<string, string> = {};
  for (const item of list) {
    const text = String(item);
    const eq = text.indexOf("=");
    if (eq < 1) throw usageError(`--${name} takes key=value, not ${text}`);
    out[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return out;
}
