#!/usr/bin/env bun
/** `aurum`: the command-line client of Aurum Scenarios. Picks the command, runs it, maps failures to exit codes (docs/cli.md). */
import { ApiClient } from "./client";
import { type Command, commandHelp, overallHelp, parseCommandLine, resolveConfig } from "./command";
import { completionCommand } from "./completion";
import { curveCommands } from "./curves";
import { CliError, EXIT } from "./errors";
import { outputCommands } from "./outputs";
import { runCommands } from "./runs";
import { scenarioCommands } from "./scenarios";

const COMMANDS: Command[] = [...scenarioCommands, ...runCommands, ...outputCommands, ...curveCommands, completionCommand(() => COMMANDS)];

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  try {
    if (argv[0] === "help") argv = [...argv.slice(1), "--help"];
    const parsed = parseCommandLine(COMMANDS, argv);
    if (!parsed) {
      const asked = argv.includes("--help") || argv.includes("-h");
      (asked ? process.stdout : process.stderr).write(`${overallHelp(COMMANDS)}\n`);
      return asked ? EXIT.OK : EXIT.USAGE;
    }
    const { command, values, args } = parsed;
    if (values.help) {
      process.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.OK;
    }
    const api = new ApiClient(resolveConfig(values, env));
    return (await command.run({ api, values, args, json: Boolean(values.json) })) ?? EXIT.OK;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n${err.lines.map((l) => `  ${l}\n`).join("")}`);
      return err.exitCode;
    }
    // Local failures (a full disk, a file we may not write) are not the API's fault.
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`error: ${e?.code ? `${e.message}` : (e?.stack ?? String(err))}\n`);
    return EXIT.FAILED;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2), process.env));
