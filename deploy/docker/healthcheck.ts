/**
 * The image's Docker HEALTHCHECK. One image runs several verbs, so the check first finds which verb
 * this container runs (from /proc: the `bun src/main.ts <verb>` process of this app's directory, so
 * that other bun processes, as on a shared test machine, do not count), then asks that process's own probe endpoint on the port its
 * configuration gives: `api`/`start` → AURUM_API_PORT, `worker` → AURUM_SCENARIO_METRICS_PORT.
 * A `migrate` container is healthy while it runs (it exits by itself). Exit 0 healthy, 1 not.
 *
 *   bun deploy/docker/healthcheck.ts              GET /healthz (liveness: what Docker acts on)
 *   bun deploy/docker/healthcheck.ts /readyz      readiness instead (503 while draining or DB down)
 *
 * Kubernetes ignores HEALTHCHECK and uses the probes in deploy/k8s; this is for Docker and compose.
 * It reads the configuration through src/config.ts, so defaults can never drift from the app's.
 */
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "../../src/config";

export type Verb = "start" | "api" | "worker" | "migrate";
const VERBS: readonly string[] = ["start", "api", "worker", "migrate"];

/** The URL whose 2xx means "healthy" for a process running `verb`; undefined when there is nothing to ask. */
export function probeUrl(verb: Verb, env: Record<string, string | undefined>, path = "/healthz"): string | undefined {
  if (verb === "migrate") return undefined;
  const config = loadConfig(env);
  const [host, port] = verb === "worker" ? [config.scenarioMetricsAddr, config.scenarioMetricsPort] : [config.host, config.port];
  return `http://${loopbackFor(host)}:${port}${path}`;
}

/** A wildcard bind address is reached through loopback; a specific one is asked directly. */
function loopbackFor(host: string): string {
  if (host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** The app's directory: /app in the image, this script's `../..`. */
const APP_ROOT = resolve(import.meta.dir, "../..");

/**
 * The verb of the `bun src/main.ts <verb>` process in this PID namespace that runs `appRoot`'s
 * src/main.ts (its working directory resolves the path), if there is one. The image holds only
 * that one; beside the image-steps test's API, the test machine ran other tests' workers, and the
 * check once asked a worker's port for the API's health (exit 1).
 */
export function findVerb(procDir = "/proc", appRoot = APP_ROOT): Verb | undefined {
  let main: string;
  try {
    main = join(realpathSync(appRoot), "src/main.ts");
  } catch {
    return undefined;
  }
  let entries: string[];
  try {
    entries = readdirSync(procDir).filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  } catch {
    return undefined;
  }
  for (const pid of entries) {
    try {
      const argv = readFileSync(`${procDir}/${pid}/cmdline`, "utf8").split("\0");
      const i = argv.findIndex((a) => a.endsWith("src/main.ts"));
      const verb = argv[i + 1];
      // Only a main.ts process's working directory is read: it resolves the path to this app's or another's.
      if (i >= 0 && verb && VERBS.includes(verb) && resolve(realpathSync(`${procDir}/${pid}/cwd`), argv[i] as string) === main) return verb as Verb;
    } catch {
      // the process ended while we looked, or is another user's
    }
  }
  return undefined;
}

/** Asks the probe of a process running `verb`; resolves to the exit code (0 healthy, 1 not). */
export async function check(verb: Verb, env: Record<string, string | undefined>, path = "/healthz"): Promise<number> {
  let url: string | undefined;
  try {
    url = probeUrl(verb, env, path);
  } catch (err) {
    console.error(`healthcheck: ${(err as Error).message}`);
    return 1;
  }
  if (!url) return 0;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
    if (res.ok) return 0;
    console.error(`healthcheck: ${url} answered ${res.status}`);
  } catch (err) {
    console.error(`healthcheck: ${url}: ${(err as Error).message}`);
  }
  return 1;
}

if (import.meta.main) {
  const verb = findVerb();
  if (!verb) console.error("healthcheck: no `bun src/main.ts <verb>` process found");
  process.exit(verb ? await check(verb, process.env, process.argv[2] ?? "/healthz") : 1);
}
