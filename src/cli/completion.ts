/**
 * `aurum completion bash|zsh`: a shell completion script made from the commands themselves, so it
 * knows every command word and every option the CLI parses. zsh runs the bash function through
 * its bashcompinit layer.
 */
import { type Command, GLOBAL_OPTIONS, type Options } from "./command";
import { usageError } from "./errors";

const longOptions = (options: Options = {}) => Object.keys(options).map((o) => `--${o}`);
const takesValue = (options: Options = {}) =>
  Object.entries(options)
    .filter(([, o]) => o.type === "string")
    .flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);

/** The bash completion function: the command words typed so far pick the candidates. */
export function bashCompletion(commands: Command[]): string {
  const global = longOptions(GLOBAL_OPTIONS);
  const valued = new Set([...takesValue(GLOBAL_OPTIONS), ...commands.flatMap((c) => takesValue(c.options))]);
  const first = [...new Set(commands.map((c) => c.name.split(" ")[0] as string)), "help"];
  const groups = new Map<string, string[]>();
  for (const c of commands) {
    const [head, sub] = c.name.split(" ");
    if (sub) groups.set(head as string, [...(groups.get(head as string) ?? []), sub]);
  }
  // Longest names first, so "runs get" wins over a group "runs".
  const byCommand = commands
    .filter((c) => c.name !== "completion")
    .sort((a, b) => b.name.length - a.name.length)
    .map((c) => `    "${c.name}"|"${c.name} "*) words="${[...longOptions(c.options), ...global].join(" ")}" ;;`);
  const byGroup = [...groups].map(([head, subs]) => `    "${head}") words="${subs.join(" ")}" ;;`);
  return `# aurum completion for bash: eval "$(aurum completion bash)", or save it as /etc/bash_completion.d/aurum
_aurum() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="" w i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case " ${[...valued].join(" ")} " in *" $w "*) ((i++)); continue ;; esac
    [[ $w == -* ]] && continue
    cmd="\${cmd:+$cmd }$w"
  done
  case "$cmd" in
    "completion") words="bash zsh" ;;
${[...byCommand, ...byGroup].join("\n")}
    "") words="${[...first, ...global].join(" ")}" ;;
    *) words="${global.join(" ")}" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _aurum aurum
`;
}

export function completionCommand(commands: () => Command[]): Command {
  return {
    name: "completion",
    args: ["SHELL"],
    summary: 'Print a shell completion script (bash or zsh): eval "$(aurum completion bash)".',
    async run({ args }) {
      const shell = args[0];
      const script = bashCompletion(commands());
      if (shell === "bash") process.stdout.write(script);
      else if (shell === "zsh") process.stdout.write(`# aurum completion for zsh: eval "$(aurum completion zsh)"\nautoload -U +X bashcompinit && bashcompinit\n${script}`);
      else throw usageError(`unknown shell ${JSON.stringify(shell)}: bash or zsh`, 'e.g. eval "$(aurum completion bash)"');
      return undefined;
    },
  };
}
