/**
 * `aurum completion bash|zsh`: the script the CLI prints, run by a real bash with the words of a
 * half-typed command line, completes command words and each command's options.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const MAIN = join(import.meta.dir, "../../../src/cli/main.ts");

async function aurum(args: string[]) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const script = (await aurum(["completion", "bash"])).stdout;
const quote = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;

/** What bash offers for `line` (the cursor at its end; a trailing space starts a new word). */
async function complete(line: string): Promise<string[]> {
  const words = line.split(" ");
  const probe = `${script}\nCOMP_WORDS=(${words.map(quote).join(" ")}); COMP_CWORD=${words.length - 1}; _aurum; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const proc = Bun.spawn(["bash", "-c", probe], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err }).toEqual({ code: 0, err: "" });
  return out.split("\n").filter(Boolean);
}

describe.skipIf(!Bun.which("bash"))("aurum completion bash", () => {
  test("command words: the first, then a group's", async () => {
    expect(await complete("aurum sc")).toEqual(["scenarios"]);
    expect(await complete("aurum runs ")).toEqual(["list", "get", "cancel"]);
    expect(await complete("aurum completion ")).toEqual(["bash", "zsh"]);
  });

  test("a command's own options after its arguments, and the global ones", async () => {
    expect(await complete("aurum runs get SCEN RUN --w")).toEqual(["--wait"]);
    expect(await complete("aurum outputs SCEN --for")).toEqual(["--format"]);
    expect(await complete("aurum scenarios list --j")).toEqual(["--json"]);
    // scenarios get has no --wait
    expect(await complete("aurum scenarios get S --w")).toEqual([]);
  });

  test("an option's value is not taken for a command word", async () => {
    expect(await complete("aurum --url http://x sc")).toEqual(["scenarios"]);
    expect(await complete("aurum run S --set mc_paths=500 --wa")).toEqual(["--wait"]);
  });
});

describe("aurum completion", () => {
  test("zsh: the same function through bashcompinit", async () => {
    const zsh = await aurum(["completion", "zsh"]);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toContain("autoload -U +X bashcompinit && bashcompinit\n");
    expect(zsh.stdout).toContain(script);
  });

  test("another shell is a usage error (exit 2)", async () => {
    const fish = await aurum(["completion", "fish"]);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain('unknown shell "fish": bash or zsh');
  });
});
