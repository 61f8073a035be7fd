/**
 * The deployment files (deploy/docker, deploy/compose, deploy/k8s) checked against the code they
 * deploy: verbs from src/main.ts, settings and defaults from src/config.ts, probe paths answered
 * by the real API and worker probe server, service versions from deploy/local. No Docker engine
 * or cluster is needed; `kubectl kustomize` (client only, offline) renders the overlays when present.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import postgres from "postgres";
import { check, findVerb, probeUrl } from "../../deploy/docker/healthcheck";
import { createMetrics } from "../../src/adapters/metrics";
import type { Sql } from "../../src/adapters/postgres";
import type { App } from "../../src/app";
import { loadConfig, SETTINGS } from "../../src/config";
import { createAuthenticator } from "../../src/platform/auth";
import { createLogger } from "../../src/platform/logger";
import { buildRuntime } from "../../src/runtime";
import { startProbeServer } from "../../src/worker/metrics";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped; the assertions are the types.
type Y = any;
type Env = Record<string, string>;

const ROOT = join(import.meta.dir, "../..");
const text = (p: string) => readFileSync(join(ROOT, p), "utf8");
const parseYaml = (src: string): Y[] => {
  const value = Bun.YAML.parse(src);
  return /^---\s*$/m.test(src) && Array.isArray(value) ? value.filter(Boolean) : [value];
};
const yaml = (p: string) => parseYaml(text(p));
/** KEY=VALUE lines (kustomize env files, .properties); `#` comments and blank lines skipped. */
const keyValues = (p: string): Env =>
  Object.fromEntries(
    text(p)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
  );
const walk = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(join(ROOT, f)).isFile());

const DECLARED = new Set(Object.values(SETTINGS).map((s) => s.env));
/**
 * Settings the deployment already sets while their code is being added (Trino output store, Redis
 * cache). Documented in docs/deployment.md; delete a name here once src/config.ts declares it.
 */
const PENDING = ["AURUM_TRINO_URL", "AURUM_TRINO_USER", "AURUM_TRINO_CATALOG", "AURUM_TRINO_SCHEMA", "AURUM_OUTPUT_STORE"];
const unknownNames = (env: Env) => Object.keys(env).filter((k) => k.startsWith("AURUM_") && !DECLARED.has(k) && !PENDING.includes(k));

const VERBS = (text("src/main.ts").match(/usage: bun src\/main\.ts <([a-z|]+)>/)?.[1] ?? "").split("|");
/** The port a verb's probes and metrics listen on, parsed by the app's own config loader. */
const listenPort = (verb: string, env: Env) => (verb === "worker" ? loadConfig(env).scenarioMetricsPort : loadConfig(env).port);
/** Seconds a process needs after SIGTERM beyond AURUM_SHUTDOWN_GRACE_MS: flush the outbox, close Kafka and the pool. */
const CLOSE_MARGIN_S = 5;

// ---------------------------------------------------------------- the real probe endpoints
const probeStatus: Record<string, (path: string) => Promise<number>> = {};
let workerProbes: ReturnType<typeof startProbeServer>;
let noDb: Sql;
beforeAll(async () => {
  // Shutting down / not yet consuming: /readyz must say 503 without touching the database. The
  // client is lazy and points at a closed port: any query would fail the test, none is made.
  noDb = postgres("postgres://aurum@127.0.0.1:1/none", { max: 1, connect_timeout: 1 });
  const runtime = await buildRuntime("api", loadConfig({}), {
    db: { sql: noDb, mode: "server", close: async () => {} },
    log: createLogger("silent"),
    authenticate: async () => {
      throw new Error("no auth in this test");
    },
    rateLimitStore: null,
  });
  runtime.beginDraining();
  const api = runtime.app as App;
  workerProbes = startProbeServer({ port: 0, hostname: "127.0.0.1", metrics: createMetrics(), sql: noDb, isReady: () => false });
  const apiStatus = async (path: string) => (await api.handle(new Request(`http://localhost${path}`))).status;
  const workerStatus = async (path: string) => (await fetch(`http://127.0.0.1:${workerProbes.port}${path}`)).status;
  Object.assign(probeStatus, { api: apiStatus, start: apiStatus, worker: workerStatus });
});
afterAll(async () => {
  await workerProbes?.stop(true);
  await noDb?.end({ timeout: 1 });
});

describe("the probe endpoints the deployment relies on", () => {
  for (const verb of ["api", "worker"]) {
    test(`${verb}: /healthz is 200, /readyz is 503 while not ready, /metrics is 200`, async () => {
      const status = probeStatus[verb]!;
      expect(await status("/healthz")).toBe(200);
      expect(await status("/readyz")).toBe(503);
      expect(await status("/metrics")).toBe(200);
      expect(await status("/no-such-probe")).toBe(404);
    });
  }
});

// ---------------------------------------------------------------- Dockerfile and .dockerignore
type Instruction = { op: string; args: string };
function dockerfile(p: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text(p).split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    pending += `${line.replace(/\\$/, "").trim()} `;
    if (line.endsWith("\\")) continue;
    const [op = "", ...rest] = pending.trim().split(/\s+/);
    out.push({ op: op.toUpperCase(), args: rest.join(" ") });
    pending = "";
  }
  return out;
}
const execForm = (args: string): string[] => JSON.parse(args.slice(args.indexOf("[")));

/** Docker's .dockerignore semantics for the patterns used here: last match wins, `!` re-includes. */
function dockerIgnored(path: string, patterns: string[]): boolean {
  let excluded = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const segs = (negated ? raw.slice(1) : raw).replace(/\/$/, "").split("/");
    let re = "";
    segs.forEach((seg, i) => {
      if (seg === "**") {
        re += i === segs.length - 1 ? ".*" : "(?:.*/)?";
        return;
      }
      re += seg
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]");
      if (i < segs.length - 1) re += "/";
    });
    if (new RegExp(`^${re}(?:/.*)?$`).test(path)) excluded = !negated;
  }
  return excluded;
}

describe("deploy/docker/Dockerfile", () => {
  const steps = dockerfile("deploy/docker/Dockerfile");
  const all = (op: string) => steps.filter((s) => s.op === op);
  const last = (op: string) => all(op).at(-1)?.args ?? "";
  const ignore = text(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const bunVersion = JSON.parse(text("package.json")).devDependencies.bun as string;

  test("every stage is the official Bun image at the version package.json pins, and the last one is distroless", () => {
    const images = all("FROM").map((s) => s.args.split(/\s+/)[0] ?? "");
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const image of images) expect(image).toMatch(new RegExp(`^oven/bun:${bunVersion.replace(/\./g, "\\.")}(-(slim|distroless|alpine|debian))?$`));
    expect(images.at(-1)).toBe(`oven/bun:${bunVersion}-distroless`);
  });

  test("installs production dependencies exactly as package-lock.json locks them", () => {
    const install = all("RUN").find((s) => s.args.includes("bun install"))?.args ?? "";
    expect(install).toContain("--production");
    expect(install).toContain("--frozen-lockfile");
    expect(all("COPY").some((s) => s.args.split(/\s+/).includes("package-lock.json"))).toBe(true);
    // the Bun npm package is a devDependency: the runtime uses the image's own bun binary
    expect(JSON.parse(text("package.json")).dependencies.bun).toBeUndefined();
  });

  test("runs as a numeric non-root user", () => {
    const [uid, gid] = last("USER").split(":");
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
  });

  test("the entry point is src/main.ts and the default and documented verbs are ones it accepts", () => {
    expect(VERBS).toEqual(expect.arrayContaining(["api", "worker", "migrate"]));
    expect(execForm(last("ENTRYPOINT")).at(-1)).toBe("src/main.ts");
    expect(VERBS).toContain(execForm(last("CMD"))[0]!);
    const documented = [...text("deploy/docker/Dockerfile").matchAll(/docker run aurum-scenarios (\w+)/g)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThanOrEqual(3);
    for (const verb of documented) expect(VERBS).toContain(verb!);
  });

  test("data and temp are volumes, AURUM_DATA_DIR points at one, and every AURUM_ variable is a setting", () => {
    const volumes = execForm(last("VOLUME"));
    expect(volumes).toContain("/tmp");
    const env = Object.fromEntries(all("ENV").flatMap((s) => [...s.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    expect(volumes).toContain(env.AURUM_DATA_DIR!);
    expect(env.TMPDIR).toBe("/tmp");
    expect(unknownNames(env)).toEqual([]);
  });

  test("EXPOSE lists the default API and worker ports", () => {
    const exposed = all("EXPOSE").flatMap((s) => s.args.split(/\s+/));
    expect(exposed).toEqual(expect.arrayContaining([SETTINGS.port.default, SETTINGS.scenarioMetricsPort.default]));
  });

  test("HEALTHCHECK runs the healthcheck script, which is copied to that path", () => {
    const cmd = execForm(last("HEALTHCHECK"));
    const script = cmd.find((a) => a.endsWith("healthcheck.ts"));
    expect(script).toBe(`${last("WORKDIR")}/deploy/docker/healthcheck.ts`);
    expect(all("COPY").some((s) => s.args === "deploy/docker/healthcheck.ts ./deploy/docker/healthcheck.ts")).toBe(true);
  });

  test("every COPY source exists and .dockerignore lets it (and every file under it) into the context", () => {
    const stages = all("FROM").map((s) => s.args.split(/\s+AS\s+/i)[1]);
    for (const { args } of all("COPY")) {
      const parts = args.split(/\s+/).filter((a) => !a.startsWith("--chown"));
      const from = parts.find((a) => a.startsWith("--from="));
      if (from) {
        expect(stages).toContain(from.slice("--from=".length));
        continue;
      }
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src))).toBe(true);
        const files = statSync(join(ROOT, src)).isDirectory() ? walk(src) : [src];
        expect(files.filter((f) => dockerIgnored(f, ignore))).toEqual([]);
      }
    }
  });

  test(".dockerignore keeps local state, tests and tooling out of the build context", () => {
    for (const p of ["node_modules/elysia/package.json", ".git/HEAD", ".services/env", ".aurum/pg", "test/unit/deploy.test.ts", "deploy/local/services.sh", "docs/runs.md"]) {
      expect(dockerIgnored(p, ignore)).toBe(true);
    }
  });
});

describe("deploy/docker/healthcheck.ts", () => {
  const d = SETTINGS;
  test("asks each verb's own probe port, with the app's defaults and overrides", () => {
    expect(probeUrl("api", {})).toBe(`http://127.0.0.1:${d.port.default}/healthz`);
    expect(probeUrl("start", {}, "/readyz")).toBe(`http://127.0.0.1:${d.port.default}/readyz`);
    expect(probeUrl("worker", {})).toBe(`http://127.0.0.1:${d.scenarioMetricsPort.default}/healthz`);
    expect(probeUrl("worker", { AURUM_SCENARIO_METRICS_PORT: "9600", AURUM_SCENARIO_METRICS_ADDR: "10.1.2.3" })).toBe("http://10.1.2.3:9600/healthz");
    expect(probeUrl("api", { AURUM_API_HOST: "::" })).toBe(`http://[::1]:${d.port.default}/healthz`);
    expect(probeUrl("migrate", {})).toBeUndefined();
  });

  test("finds the verb from the process table: the process that runs this app's src/main.ts, no other", () => {
    const proc = mkdtempSync(join(tmpdir(), "aurum-proc-"));
    const app = mkdtempSync(join(tmpdir(), "aurum-app-"));
    const other = mkdtempSync(join(tmpdir(), "aurum-other-"));
    try {
      const ps = (pid: number, argv: string[], cwd = app) => {
        mkdirSync(join(proc, String(pid)));
        writeFileSync(join(proc, String(pid), "cmdline"), `${argv.join("\0")}\0`);
        symlinkSync(cwd, join(proc, String(pid), "cwd"));
      };
      mkdirSync(join(proc, "self")); // not a pid: ignored
      ps(1, ["/usr/local/bin/bun", "src/main.ts", "worker"]);
      expect(findVerb(proc, app)).toBe("worker");
      rmSync(join(proc, "1"), { recursive: true });
      ps(7, ["/usr/local/bin/bun", "/app/deploy/docker/healthcheck.ts"]);
      expect(findVerb(proc, app)).toBeUndefined();
      // Another checkout's process on the same machine (the image-steps test beside other tests' workers).
      ps(3, ["/usr/local/bin/bun", "src/main.ts", "worker"], other);
      expect(findVerb(proc, app)).toBeUndefined();
      ps(9, ["/usr/local/bin/bun", join(app, "src/main.ts"), "api"], other);
      expect(findVerb(proc, app)).toBe("api");
    } finally {
      for (const d of [proc, app, other]) rmSync(d, { recursive: true, force: true });
    }
  });

  test("exits 0 on the worker's live probe and 1 on its unready /readyz or a closed port", async () => {
    const env = { AURUM_SCENARIO_METRICS_PORT: String(workerProbes.port), AURUM_SCENARIO_METRICS_ADDR: "127.0.0.1" };
    expect(await check("worker", env)).toBe(0);
    expect(await check("worker", env, "/readyz")).toBe(1);
    expect(await check("worker", { AURUM_SCENARIO_METRICS_PORT: "1" })).toBe(1);
    expect(await check("migrate", {})).toBe(0);
  });
});

// ---------------------------------------------------------------- Kubernetes
type Kustomization = { dir: string; doc: Y };
const kustomization = (dir: string): Kustomization => ({ dir, doc: yaml(join(dir, "kustomization.yaml"))[0] });
const BASE = kustomization("deploy/k8s/base");
const OVERLAY = kustomization("deploy/k8s/overlays/example");
/** Files a kustomization refers to (resources, patches, generator inputs), relative to the repo. */
function referencedFiles({ dir, doc }: Kustomization): string[] {
  const gens = [...(doc.configMapGenerator ?? []), ...(doc.secretGenerator ?? [])];
  return [
    ...(doc.resources ?? []),
    ...(doc.patches ?? []).map((p: Y) => p.path).filter(Boolean),
    ...gens.flatMap((g: Y) => [...(g.envs ?? []), ...(g.files ?? []).map((f: string) => f.split("=").at(-1))]),
  ].map((f: string) => join(dir, f));
}
const baseDocs: Y[] = BASE.doc.resources.flatMap((r: string) => yaml(join(BASE.dir, r)));
const ofKind = (docs: Y[], kind: string) => docs.filter((d) => d.kind === kind);
const workloads = [...ofKind(baseDocs, "Deployment"), ...ofKind(baseDocs, "Job"), ...ofKind(baseDocs, "CronJob")];
const deployments = ofKind(baseDocs, "Deployment");
const CONFIG_NAME = BASE.doc.configMapGenerator[0].name as string;
const SECRET_NAME = OVERLAY.doc.secretGenerator[0].name as string;
const baseConfig = keyValues(join(BASE.dir, "config.env"));
const overlayConfig = { ...baseConfig, ...keyValues(join(OVERLAY.dir, "config.env")) };
const exampleSecrets = keyValues(join(OVERLAY.dir, "secrets.example.env"));

/** The environment a container sees: its ConfigMap, then its own env (secrets from `secrets`). */
function containerEnv(c: Y, config: Env, secrets: Env): Env {
  const env: Env = {};
  for (const from of c.envFrom ?? []) if (from.configMapRef?.name === CONFIG_NAME) Object.assign(env, config);
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (ref && secrets[ref.key] !== undefined) env[e.name] = secrets[ref.key]!;
  }
  return env;
}
const podOf = (w: Y) => (w.kind === "CronJob" ? w.spec.jobTemplate.spec.template.spec : w.spec.template.spec);
const labelsMatch = (selector: Env, labels: Env) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("deploy/k8s", () => {
  test("every kustomization refers to files that exist, and every manifest is used", () => {
    const used = new Set<string>();
    for (const k of [BASE, OVERLAY]) {
      for (const f of referencedFiles(k)) {
        expect(existsSync(join(ROOT, f))).toBe(true);
        if (statSync(join(ROOT, f)).isDirectory()) expect(existsSync(join(ROOT, f, "kustomization.yaml"))).toBe(true);
        used.add(relative(ROOT, join(ROOT, f)));
      }
    }
    const manifests = walk("deploy/k8s").filter((f) => /\.(ya?ml|env)$/.test(f) && !f.endsWith("kustomization.yaml"));
    // the adapter's Helm values are documentation for another install, not a resource
    expect(manifests.filter((f) => !used.has(f))).toEqual([join(OVERLAY.dir, "prometheus-adapter-values.yaml")]);
    for (const f of manifests.filter((m) => m.endsWith(".yaml"))) expect(yaml(f).length).toBeGreaterThan(0);
  });

  test("the ConfigMaps name only real settings, and the example's values pass the app's config loader", () => {
    expect(unknownNames(baseConfig)).toEqual([]);
    expect(unknownNames(overlayConfig)).toEqual([]);
    for (const w of workloads) {
      for (const c of podOf(w).containers) {
        expect(unknownNames(containerEnv(c, overlayConfig, exampleSecrets))).toEqual([]);
        for (const e of c.env ?? []) expect(e.name.startsWith("AURUM_")).toBe(true);
        expect(() => loadConfig(containerEnv(c, overlayConfig, exampleSecrets))).not.toThrow();
      }
    }
  });

  test("long-running containers get a token verifier configuration src/main.ts accepts at start", () => {
    // main.ts builds the authenticator for api and worker alike; an unconfigured one stops the process.
    for (const d of deployments) {
      for (const c of podOf(d).containers) expect(() => createAuthenticator(loadConfig(containerEnv(c, overlayConfig, exampleSecrets)))).not.toThrow();
    }
  });

  test("workloads run a real verb, with the DSN from the Secret and the ConfigMap from the generator", () => {
    expect(workloads.map((w) => podOf(w).containers[0].args.slice(0, 2).join(" ")).sort()).toEqual(["api", "migrate", "worker", "worker maintain"]);
    for (const w of workloads) {
      for (const c of podOf(w).containers) {
        expect(VERBS).toContain(c.args[0]);
        expect(c.image).toBe(BASE.doc.images[0].name);
        expect(c.envFrom.map((f: Y) => f.configMapRef?.name)).toContain(CONFIG_NAME);
        const dsn = c.env.find((e: Y) => e.name === "AURUM_APP_DB_DSN");
        expect(dsn.valueFrom.secretKeyRef).toEqual({ name: SECRET_NAME, key: "AURUM_APP_DB_DSN" }); // not optional
        for (const e of c.env) if (e.valueFrom?.secretKeyRef) expect(e.valueFrom.secretKeyRef.name).toBe(SECRET_NAME);
      }
    }
  });

  test("pods are non-root with no privilege escalation, a read-only root, no capabilities, and volumes for /tmp and the data dir", () => {
    for (const w of workloads) {
      const pod = podOf(w);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const c of pod.containers) {
        const sc = c.securityContext;
        expect([sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.runAsNonRoot, sc.privileged]).toEqual([false, true, true, false]);
        expect(sc.capabilities.drop).toEqual(["ALL"]);
        const emptyDirs = new Set(pod.volumes.filter((v: Y) => v.emptyDir).map((v: Y) => v.name));
        const mounted = c.volumeMounts.filter((m: Y) => emptyDirs.has(m.name)).map((m: Y) => m.mountPath);
        expect(mounted).toEqual(expect.arrayContaining(["/tmp", loadConfig(containerEnv(c, baseConfig, {})).dataDir]));
      }
    }
  });

  test("every container has CPU and memory requests within its limits", () => {
    const cpu = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q));
    const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
    const mem = (q: string) => {
      const [, n, unit = ""] = q.match(/^(\d+)(Ki|Mi|Gi)?$/) ?? [];
      return Number(n) * (units[unit] ?? 1);
    };
    for (const w of workloads) {
      for (const { resources: r } of podOf(w).containers) {
        expect(cpu(r.requests.cpu)).toBeLessThanOrEqual(cpu(r.limits.cpu));
        expect(mem(r.requests.memory)).toBeLessThanOrEqual(mem(r.limits.memory));
      }
    }
  });

  test("probes hit the port the verb listens on and paths the app answers (liveness 200, readiness 503 while not ready)", async () => {
    expect(deployments.length).toBe(2);
    for (const d of deployments) {
      const c = podOf(d).containers[0];
      const verb = c.args[0] as string;
      const port = listenPort(verb, containerEnv(c, baseConfig, {}));
      for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
        const probe = c[kind].httpGet;
        const named = c.ports.find((p: Y) => p.name === probe.port);
        expect(typeof probe.port === "number" ? probe.port : named?.containerPort).toBe(port);
        expect(await probeStatus[verb]!(probe.path)).toBe(kind === "readinessProbe" ? 503 : 200);
      }
      expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    }
  });

  test("terminationGracePeriodSeconds covers preStop + AURUM_SHUTDOWN_GRACE_MS + closing", () => {
    for (const d of deployments) {
      const pod = podOf(d);
      const c = pod.containers[0];
      const graceS = loadConfig(containerEnv(c, overlayConfig, exampleSecrets)).shutdownGraceMs / 1000;
      expect(graceS).toBeGreaterThan(0);
      const preStopS = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopS + graceS + CLOSE_MARGIN_S);
    }
  });

  test("the worker's threads fit its CPU limit", () => {
    const worker = deployments.find((d) => podOf(d).containers[0].args[0] === "worker");
    const c = podOf(worker).containers[0];
    expect(loadConfig(containerEnv(c, baseConfig, {})).workerConcurrency).toBeLessThanOrEqual(Number(c.resources.limits.cpu));
  });

  test("each Service selects one Deployment's pods and targets a port it declares; the ServiceMonitor scrapes both", () => {
    const services = ofKind(baseDocs, "Service");
    const ports = new Set<string>();
    for (const s of services) {
      const matched = deployments.filter((d) => labelsMatch(s.spec.selector, d.spec.template.metadata.labels));
      expect(matched.length).toBe(1);
      const declared = podOf(matched[0]).containers[0].ports.map((p: Y) => p.name);
      for (const p of s.spec.ports) {
        expect(declared).toContain(p.targetPort);
        ports.add(p.name);
      }
    }
    const [monitor] = ofKind(baseDocs, "ServiceMonitor");
    for (const s of services) expect(labelsMatch(monitor.spec.selector.matchLabels, s.metadata.labels)).toBe(true);
    expect(monitor.spec.endpoints.map((e: Y) => e.port).sort()).toEqual([...ports].sort());
    for (const e of monitor.spec.endpoints) expect(e.path).toBe("/metrics");
  });

  test("both Deployments have an HPA (CPU in the base) and a PodDisruptionBudget", () => {
    for (const d of deployments) {
      const hpa = ofKind(baseDocs, "HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
      expect(hpa.spec.metrics.map((m: Y) => `${m.type}/${m.resource?.name}`)).toEqual(["Resource/cpu"]);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      const pdb = ofKind(baseDocs, "PodDisruptionBudget").filter((p) => labelsMatch(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
      expect(pdb.length).toBe(1);
    }
  });

  test("the worker HPA stops at the request topic's partition count", () => {
    const partitions = Number(text("src/runtime.ts").match(/name: config\.scenarioRequestTopic, partitions: (\d+)/)?.[1]);
    expect(partitions).toBeGreaterThan(0);
    const hpa = ofKind(baseDocs, "HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === "aurum-scenarios-worker");
    expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(partitions);
  });

  test("the overlay's lag HPA reads the gauge the worker exports, through the documented adapter rule", () => {
    const patch = yaml(join(OVERLAY.dir, "patches/worker-hpa-lag.yaml"))[0];
    const pods = patch.spec.metrics.find((m: Y) => m.type === "Pods");
    const metric = pods.pods.metric.name as string;
    expect(text("src/adapters/metrics.ts")).toContain(`name: "${metric}"`);
    const rule = yaml(join(OVERLAY.dir, "prometheus-adapter-values.yaml"))[0].rules.custom[0];
    expect(rule.seriesQuery).toStartWith(`${metric}{`);
    expect(rule.name.as).toBe(metric);
  });
});

// `kubectl kustomize` renders offline (no cluster); skipped where kubectl is not installed.
const kubectl = Bun.which("kubectl");
if (!kubectl) console.warn("SKIP kubectl is not installed: the rendered-manifest tests need it (the kustomize tests of the plain files still run)");
describe.skipIf(!kubectl)("deploy/k8s rendered with kubectl kustomize", () => {
  const render = (dir: string) => {
    const r = Bun.spawnSync([kubectl!, "kustomize", join(ROOT, dir)], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr.toString()}`);
    return parseYaml(r.stdout.toString());
  };

  test("the base renders every kind the deployment needs", () => {
    const kinds = render(BASE.dir).map((d) => d.kind);
    for (const kind of ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"]) expect(kinds.filter((k) => k === kind).length).toBe(2);
    expect(kinds).toEqual(expect.arrayContaining(["ConfigMap", "Job", "ServiceMonitor", "ServiceAccount"]));
  });

  test("the example overlay resolves every ConfigMap and Secret reference, pins the image, and scales workers on lag", () => {
    const docs = render(OVERLAY.dir);
    const names = (kind: string) => new Set(ofKind(docs, kind).map((d) => d.metadata.name));
    for (const d of docs.filter((x) => x.kind !== "Namespace")) expect(d.metadata.namespace).toBe(OVERLAY.doc.namespace);
    for (const w of docs.filter((x) => x.kind === "Deployment" || x.kind === "Job")) {
      for (const c of podOf(w).containers) {
        expect(c.image).toBe(`${OVERLAY.doc.images[0].newName}:${OVERLAY.doc.images[0].newTag}`);
        for (const f of c.envFrom) expect(names("ConfigMap").has(f.configMapRef.name)).toBe(true);
        for (const e of c.env) if (e.valueFrom?.secretKeyRef) expect(names("Secret").has(e.valueFrom.secretKeyRef.name)).toBe(true);
      }
    }
    const [config] = ofKind(docs, "ConfigMap");
    expect(config.data).toEqual(overlayConfig);
    for (const d of ofKind(docs, "Deployment")) {
      expect(podOf(d).terminationGracePeriodSeconds).toBeGreaterThan(Number(config.data.AURUM_SHUTDOWN_GRACE_MS) / 1000);
    }
    const hpa = ofKind(docs, "HorizontalPodAutoscaler").find((h) => h.metadata.name === "aurum-scenarios-worker");
    expect(hpa.spec.metrics.map((m: Y) => m.type).sort()).toEqual(["Pods", "Resource"]);
  });
});

// ---------------------------------------------------------------- docker compose
describe("deploy/compose/docker-compose.dev.yml", () => {
  const file = "deploy/compose/docker-compose.dev.yml";
  const compose = yaml(file)[0];
  const services: Record<string, Y> = compose.services;
  const appServices = Object.entries(services).filter(([, s]) => s.build);
  const env = (s: Y): Env => Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
  const pomVersion = (name: string) => text("deploy/local/pom.xml").match(new RegExp(`<${name}>([^<]+)</${name}>`))?.[1];
  const shVersion = (name: string) => text("deploy/local/services.sh").match(new RegExp(`^${name}=(\\S+)$`, "m"))?.[1];

  test("profiles: core has the services and the init jobs, worker the scenario-worker, api the API", () => {
    const inProfile = (p: string) =>
      Object.entries(services)
        .filter(([, s]) => s.profiles?.includes(p))
        .map(([n]) => n)
        .sort();
    expect(inProfile("core")).toEqual(["kafka", "migrate", "postgres", "redis", "s3", "trino", "trino-ddl"]);
    expect(inProfile("worker")).toEqual(["scenario-worker"]);
    expect(inProfile("api")).toEqual(["api"]);
    for (const s of Object.values(services)) expect(s.profiles?.length).toBe(1);
  });

  test("the guide's COMPOSE_PROFILES=core,worker (and core,api) start everything their services depend on", () => {
    expect(text("docs/deployment.md")).toContain(`COMPOSE_PROFILES=core,worker docker compose -f ${file} up -d`);
    for (const profiles of [
      ["core", "worker"],
      ["core", "api"],
    ]) {
      const active = new Set(Object.keys(services).filter((n) => profiles.includes(services[n].profiles[0])));
      for (const n of active) for (const dep of Object.keys(services[n].depends_on ?? {})) expect([n, active.has(dep)]).toEqual([n, true]);
    }
  });

  test("Kafka, Trino and S3Mock are the versions deploy/local runs; every image has an explicit tag", () => {
    const kafka = pomVersion("kafka.version");
    const trino = pomVersion("trino.version");
    expect([shVersion("KAFKA_VERSION"), shVersion("TRINO_VERSION"), shVersion("S3MOCK_VERSION")]).toEqual([kafka, trino, pomVersion("s3mock.version")]);
    expect(services.s3.image).toBe(`adobe/s3mock:${pomVersion("s3mock.version")}`);
    expect(services.kafka.image).toBe(`apache/kafka:${kafka}`);
    expect(services.trino.image).toBe(`trinodb/trino:${trino}`);
    expect(services["trino-ddl"].image).toBe(`trinodb/trino:${trino}`);
    for (const s of Object.values(services)) expect(s.image).toMatch(/^[\w./-]+:(?!latest$)[\w.-]+$/);
  });

  test("Kafka's settings mirror deploy/local/kafka/server.properties", () => {
    const local = keyValues("deploy/local/kafka/server.properties");
    const differ = new Set(["listeners", "advertised.listeners", "listener.security.protocol.map", "log.dirs"]);
    const shared = Object.entries(env(services.kafka))
      .filter(([k]) => k.startsWith("KAFKA_") && k !== "KAFKA_HEAP_OPTS")
      .map(([k, v]) => [k.slice(6).toLowerCase().replace(/_/g, "."), v] as const)
      .filter(([k]) => k in local && !differ.has(k));
    expect(shared.length).toBeGreaterThanOrEqual(8);
    for (const [k, v] of shared) expect([k, v]).toEqual([k, local[k]!]);
  });

  test("Trino's config, spooling manager, JVM and Iceberg catalog match trino/etc except for addresses, paths and the spooling key", () => {
    const local = (p: string) => keyValues(`trino/etc/${p}`);
    const dev = (p: string) => keyValues(`deploy/compose/trino/etc/${p}`);
    const same = (p: string, differ: string[]) => {
      const without = (props: Env) => Object.fromEntries(Object.entries(props).filter(([k]) => !differ.includes(k)));
      expect(without(dev(p))).toEqual(without(local(p)));
    };
    same("config.properties", ["plugin.dir", "catalog.config-dir", "discovery.uri", "protocol.spooling.shared-secret-key"]);
    same("spooling-manager.properties", ["s3.endpoint"]);
    const catalogPaths = ["connection-url", "connection-user", "connection-password", "default-warehouse-dir", "catalog-name"].map((k) => `iceberg.jdbc-catalog.${k}`);
    same("catalog/iceberg.properties", [...catalogPaths, "local.location"]);
    expect(text("deploy/compose/trino/etc/jvm.config")).toBe(text("trino/etc/jvm.config"));
  });

  test("bind mounts point at files in the repository", () => {
    for (const s of Object.values(services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const src = v.split(":")[0]!;
        if (src.startsWith(".")) expect([src, existsSync(join(ROOT, dirname(file), src))]).toEqual([src, true]);
      }
    }
  });

  test("app services build the Dockerfile, run a real verb, and set only real settings with valid values", () => {
    expect(appServices.map(([n]) => n).sort()).toEqual(["api", "migrate", "scenario-worker"]);
    for (const [, s] of appServices) {
      expect(join(dirname(file), s.build.context, s.build.dockerfile)).toBe(join(dirname(file), "../../deploy/docker/Dockerfile"));
      expect(VERBS).toContain(s.command[0]);
      expect(unknownNames(env(s))).toEqual([]);
      expect(() => loadConfig(env(s))).not.toThrow();
      if (s.command[0] !== "migrate") expect(() => createAuthenticator(loadConfig(env(s)))).not.toThrow();
    }
  });

  test("app services run like production: non-root, read-only, no capabilities, tmpfs /tmp, drain before the kill", () => {
    const user = dockerfile("deploy/docker/Dockerfile")
      .filter((s) => s.op === "USER")
      .at(-1)?.args;
    for (const [, s] of appServices) {
      expect(s.user).toBe(user);
      expect(s.read_only).toBe(true);
      expect(s.cap_drop).toEqual(["ALL"]);
      expect(s.tmpfs).toContain("/tmp");
      const graceS = loadConfig(env(s)).shutdownGraceMs / 1000;
      expect(Number(String(s.stop_grace_period).replace(/s$/, ""))).toBeGreaterThanOrEqual(graceS + CLOSE_MARGIN_S);
    }
  });

  test("published app ports are the ports the verbs listen on", () => {
    for (const name of ["api", "scenario-worker"]) {
      const s = services[name];
      const containerPorts = (s.ports as string[]).map((p) => Number(p.split(":").at(-1)));
      expect(containerPorts).toContain(listenPort(s.command[0], env(s)));
    }
  });
});

describe("docs/deployment.md", () => {
  test("documents the apply command and every pending setting the deployment sets", () => {
    const doc = text("docs/deployment.md");
    expect(doc).toContain("kubectl apply -k deploy/k8s/overlays/example");
    for (const name of PENDING) expect(doc).toContain(name);
  });
});
