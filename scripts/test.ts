/**
 * `npm test`: runs `bun test` (all of test/ unless paths are given), passes its output through,
 * and closes with one line `tests: N passed, N failed` that CI reads. Exit code is bun's.
 */
export {};

const args = process.argv.slice(2);
const proc = Bun.spawn(["bun", "test", "--timeout", "60000", ...(args.length ? args : ["test/"])], { stdout: "inherit", stderr: "pipe", env: process.env });

let tail = "";
const decoder = new TextDecoder();
for await (const chunk of proc.stderr) {
  process.stderr.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const code = await proc.exited;
const count = (word: string) => Number(tail.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0);
const [passed, failed, skipped] = [count("pass"), count("fail"), count("skip")];
// A crash before bun's summary is a failure even though no test reported one.
const failedShown = code !== 0 && failed === 0 ? 1 : failed;
console.log(`tests: ${passed} passed, ${failedShown} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code);
