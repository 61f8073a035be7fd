/** Renders docs/configuration.md from SETTINGS in src/config.ts. `--write` updates the file; a test checks it is current. */
import { join } from "node:path";
import { SETTINGS } from "../src/config";

export const CONFIG_DOC_PATH = join(import.meta.dir, "../docs/configuration.md");

export function renderConfigDoc(): string {
  const rows = Object.values(SETTINGS).map(
    (s) => `| \`${s.env}\` | ${s.default === undefined ? "(unset)" : `\`${s.default}\``} | ${s.parser.expects} | ${s.doc.replace(/\|/g, "\\|")} |`,
  );
  return `# Configuration

Every setting is an environment variable, read once at start-up into one typed, frozen object
(\`src/config.ts\`). A bad value stops the process with a one-line message on stderr that names the
variable and what it expects (exit code 78, no stack trace; passwords in URLs shown as \`***\`). An
empty value counts as unset. An \`AURUM_*\` variable that no setting reads is logged at start as an
\`unknown_setting\` warning naming the closest known variable.

This file is generated from the code by \`npm run docs:config\`; a test fails when it drifts.

| variable | default | expects | meaning |
|---|---|---|---|
${rows.join("\n")}

Notes:

- \`npm start\` (the \`start\` verb) runs in the trusted local mode when no token verifier is configured and
  \`AURUM_API_AUTH_DISABLED\` is not set; \`bun src/main.ts api\` never does and refuses to start unconfigured
  (exit 78). \`start\` refuses too (exit 78) when a verifier variable is set but empty or misspelled, so a typo
  never turns authentication off. Local mode listens on 127.0.0.1 unless \`AURUM_API_HOST\` is set and logs an
  \`auth_disabled\` warning at every start.
- \`AURUM_API_AUTH_DISABLED\` beside \`AURUM_API_AUTH_JWKS_URL\` or \`AURUM_API_AUTH_PUBLIC_KEY\` is an error (exit 78):
  local mode never overrides a configured verifier.
- The embedded data folder is locked to one process; a second process on it exits 78 naming the holder's pid.
  A port in use exits 78 as well, unless \`AURUM_API_REUSE_PORT=1\` shares it on purpose.
- The metadata DSN is \`AURUM_APP_DB_DSN\`, else \`AURUM_TIMESCALE_DSN\`, else embedded PGlite under \`AURUM_DATA_DIR\`.
`;
}

if (import.meta.main) {
  const doc = renderConfigDoc();
  if (process.argv.includes("--write")) await Bun.write(CONFIG_DOC_PATH, doc);
  else process.stdout.write(doc);
}
