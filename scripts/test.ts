/**
 * `npm test`: runs `bun test` (all of test/ unless paths are given), passes its output through,
 * and closes with the list of skipped tests (by file, with the reason the file gave in a `SKIP ...`
 * line) and one line `tests: N passed, N failed` that CI reads. Exit code is bun's.
 */
export {};

const args = process.argv.slice(2);
const proc = Bun.spawn(["bun", "test", "--timeout", "60000", ...(args.length ? args : ["test/"])], { stdout: "inherit", stderr: "pipe", env: process.env });

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour codes bun may print
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** Per test file: the tests bun reported skipped and the reasons the file printed. */
const skips = new Map<string, { tests: string[]; reasons: string[] }>();
let file = "";
const entry = () => skips.get(file) ?? (skips.set(file, { tests: [], reasons: [] }).get(file) as { tests: string[]; reasons: string[] });
let tail = "";
let partial = "";
const decoder = new TextDecoder();
for await (const chunk of proc.stderr) {
  process.stderr.write(chunk);
  const text = decoder.decode(chunk, { stream: true });
  tail = (tail + text).slice(-4096);
  const lines = (partial + text).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) {
    const plain = line.replace(ANSI_COLOUR, "");
    if (/^\S.*\.(test|spec)\.[cm]?[jt]sx?:$/.test(plain)) file = plain.slice(0, -1);
    else if (plain.startsWith("(skip) ")) entry().tests.push(plain.slice(7));
    else if (plain.startsWith("SKIP ")) entry().reasons.push(plain.slice(5));
  }
}
const code = await proc.exited;
const count = (word: string) => Number(tail.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0);
const [passed, failed, skipped] = [count("pass"), count("fail"), count("skip")];
const skippedFiles = [...skips].filter(([, s]) => s.tests.length > 0);
if (skippedFiles.length > 0) {
  console.log(`\nskipped tests (${skipped}):`);
  for (const [name, s] of skippedFiles) {
    console.log(`  ${name || "(unknown file)"}: ${s.reasons.join("; ") || "no reason given"}`);
    for (const t of s.tests) console.log(`    - ${t}`);
  }
}
// A crash before bun's summary is a failure even though no test reported one.
const failedShown = code !== 0 && failed === 0 ? 1 : failed;
console.log(`tests: ${passed} passed, ${failedShown} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code);
