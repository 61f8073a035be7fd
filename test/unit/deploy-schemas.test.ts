/**
 * The deployment files checked against published schemas, offline, with validators from npm
 * (devDependencies; docs/deployment.md "What is checked"):
 *   - Kubernetes objects (deploy/k8s, as written and as rendered by `kubectl kustomize`):
 *     kubernetes-models (its classes validate against the Kubernetes OpenAPI schema, compiled
 *     with ajv) and @kubernetes-models/prometheus-operator for the ServiceMonitor CRD;
 *   - deploy/compose/docker-compose.dev.yml: the compose-spec JSON schema as shipped by dclint
 *     (schemas/compose.schema.json), checked with ajv;
 *   - deploy/docker/Dockerfile: dockerfilelint (rules in deploy/docker/.dockerfilelintrc).
 * Each validator is also shown to reject a broken input, so a green run means something.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import Ajv from "ajv";
import { run as dockerfilelint } from "dockerfilelint";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped; the schemas are the types.
type Y = any;

const ROOT = join(import.meta.dir, "../..");
const text = (p: string) => readFileSync(join(ROOT, p), "utf8");
/** Every document of a YAML file (as in deploy.test.ts: a `---` stream parses to an array). */
const parseYaml = (src: string): Y[] => {
  const value = Bun.YAML.parse(src);
  return /^---\s*$/m.test(src) && Array.isArray(value) ? value.filter(Boolean) : [value];
};

// ---------------------------------------------------------------- Kubernetes
type ModelClass = new (data: Y) => { validate(): void };
/** apiVersion/kind → the model whose validate() checks the object against its schema. */
const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/Service": Service,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "apps/v1/Deployment": Deployment,
  "batch/v1/Job": Job,
  "batch/v1/CronJob": CronJob,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};
type SchemaError = { instancePath: string; keyword: string; message?: string; params: Y };
/**
 * Schema errors of one object, as "path message" lines; [] when valid. `partial` (kustomize
 * patches, merged over a complete object) drops only the errors for missing required fields.
 */
function k8sErrors(doc: Y, partial = false): string[] {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return [`no model for ${doc.apiVersion} ${doc.kind}: add it to MODELS`];
  // kustomize's secretGenerator wraps base64 at 70 columns; the API server's decoder (Go's
  // encoding/base64) skips line breaks, the schema's "byte" format does not.
  if (doc.kind === "Secret" && doc.data) {
    doc = { ...doc, data: Object.fromEntries(Object.entries(doc.data).map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v])) };
  }
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: SchemaError[] }).errors;
    if (!errors) throw e;
    return errors.filter((x) => !(partial && x.keyword === "required")).map((x) => `${x.instancePath} ${x.message}`);
  }
}
const K8S = "deploy/k8s";
const yamlFiles = readdirSync(join(ROOT, K8S), { recursive: true })
  .map((f) => join(K8S, String(f)))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
/** Kubernetes objects: apiVersion and kind, and not kustomize's own Kustomization. */
const isObject = (d: Y) => typeof d?.apiVersion === "string" && typeof d?.kind === "string" && !d.apiVersion.startsWith("kustomize.config.k8s.io/");
/** Files used as kustomize patches (relative to the repo), from every kustomization.yaml. */
const patchFiles = new Set(
  yamlFiles.filter((f) => f.endsWith("kustomization.yaml")).flatMap((f) => (parseYaml(text(f))[0].patches ?? []).map((p: Y) => p.path && join(f, "..", p.path)).filter(Boolean)),
);

describe("deploy/k8s validates against the Kubernetes OpenAPI schemas (kubernetes-models)", () => {
  const docs = yamlFiles.flatMap((file) => parseYaml(text(file)).map((doc) => ({ file, doc })));
  const objects = docs.filter(({ doc }) => isObject(doc));

  test("every file is a Kubernetes object, a kustomization, or the prometheus-adapter values", () => {
    const other = docs.filter(({ doc }) => !isObject(doc) && doc?.kind !== "Kustomization").map(({ file }) => file);
    expect(other).toEqual(["deploy/k8s/overlays/example/prometheus-adapter-values.yaml"]);
    expect(objects.length).toBeGreaterThanOrEqual(14);
  });

  test.each(yamlFiles.filter((f) => parseYaml(text(f)).some(isObject)))("%s", (file) => {
    const partial = patchFiles.has(file);
    for (const doc of parseYaml(text(file)).filter(isObject)) expect([doc.kind, k8sErrors(doc, partial)]).toEqual([doc.kind, []]);
  });

  test("the validator rejects wrong types, bad enums, missing required fields and bad patches", () => {
    const [api] = parseYaml(text("deploy/k8s/base/api/deployment.yaml"));
    expect(k8sErrors({ ...api, spec: { ...api.spec, replicas: "two" } })).toContain("/spec/replicas must be integer");
    const { selector: _, ...noSelector } = api.spec;
    expect(k8sErrors({ ...api, spec: noSelector })).toContain("/spec must have required property selector");
    const [svc] = parseYaml(text("deploy/k8s/base/api/service.yaml"));
    expect(k8sErrors({ ...svc, spec: { ...svc.spec, ports: [{ port: "http" }] } })).toContain("/spec/ports/0/port must be integer");
    expect(k8sErrors({ ...svc, spec: { ...svc.spec, type: "Public" } }).length).toBeGreaterThan(0);
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { A: "c2Vj\ncmV0" } };
    expect(k8sErrors(secret)).toEqual([]);
    expect(k8sErrors({ ...secret, data: { A: "not base64!" } })).toEqual(['/data/A must match format "byte"']);
    const [pdb] = parseYaml(text("deploy/k8s/base/api/pdb.yaml"));
    expect(k8sErrors({ ...pdb, spec: { ...pdb.spec, selector: "app=api" } }).length).toBeGreaterThan(0);
    const [monitor] = parseYaml(text("deploy/k8s/base/servicemonitor.yaml"));
    expect(k8sErrors({ ...monitor, spec: { ...monitor.spec, endpoints: "metrics" } })).toContain("/spec/endpoints must be array");
    // A patch may leave required fields out, not get a type wrong.
    expect(k8sErrors({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: 2 } }, true)).toEqual([]);
    expect(k8sErrors({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "2" } }, true)).toEqual(["/spec/replicas must be integer"]);
    expect(k8sErrors({ apiVersion: "apps/v1", kind: "StatefulSet" })).toEqual(["no model for apps/v1 StatefulSet: add it to MODELS"]);
  });
});

// `kubectl kustomize` renders offline (no cluster), as in deploy.test.ts; skipped where kubectl is not installed.
const kubectl = Bun.which("kubectl");
if (!kubectl) console.warn("SKIP kubectl is not installed: the rendered-manifest tests need it (the kustomize tests of the plain files still run)");
describe.skipIf(!kubectl)("deploy/k8s rendered with kubectl kustomize validates against the schemas", () => {
  const render = (dir: string) => {
    const r = Bun.spawnSync([kubectl!, "kustomize", join(ROOT, dir)], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr.toString()}`);
    return parseYaml(r.stdout.toString());
  };

  test.each([
    ["deploy/k8s/base", 14],
    ["deploy/k8s/overlays/example", 16],
  ] as const)("%s (%d objects)", (dir, count) => {
    const docs = render(dir);
    expect(docs.length).toBe(count);
    for (const doc of docs) expect([doc.kind, doc.metadata.name, k8sErrors(doc)]).toEqual([doc.kind, doc.metadata.name, []]);
  });
});

// ---------------------------------------------------------------- docker compose
describe("deploy/compose/docker-compose.dev.yml validates against the compose-spec schema", () => {
  const schema = JSON.parse(text("node_modules/dclint/schemas/compose.schema.json"));
  // The file names its draft as https://json-schema.org/draft-07/schema, which Ajv knows by its
  // canonical id; same meta-schema, so the schema itself is still checked against draft-07.
  expect(schema.$schema).toBe("https://json-schema.org/draft-07/schema");
  schema.$schema = "http://json-schema.org/draft-07/schema#";
  // strict: false as in dclint: the spec uses keywords Ajv's strict mode does not know.
  const validate = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(schema);
  const errors = (doc: Y) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  // Bun.YAML resolves the anchors and `<<` merge keys, as docker compose does before validating.
  const compose = parseYaml(text("deploy/compose/docker-compose.dev.yml"))[0];

  test("the file is valid (name, profiles, depends_on conditions, x- extensions included)", () => {
    expect(Object.keys(compose.services).length).toBe(9);
    expect(errors(compose)).toEqual([]);
  });

  test("the schema rejects unknown keys, wrong types and bad depends_on conditions", () => {
    expect(errors({ ...compose, servicez: {} })).toEqual([' must NOT have additional properties {"additionalProperty":"servicez"}']);
    const api = compose.services.api;
    expect(errors({ ...compose, services: { ...compose.services, api: { ...api, replicaz: 2 } } })).toEqual([
      '/services/api must NOT have additional properties {"additionalProperty":"replicaz"}',
    ]);
    expect(errors({ ...compose, services: { ...compose.services, api: { ...api, profiles: "api" } } }).length).toBeGreaterThan(0);
    const depends_on = { ...api.depends_on, kafka: { condition: "service_happy" } };
    expect(errors({ ...compose, services: { ...compose.services, api: { ...api, depends_on } } })).toContain(
      '/services/api/depends_on/kafka/condition must be equal to one of the allowed values {"allowedValues":["service_started","service_healthy","service_completed_successfully"]}',
    );
  });
});

// ---------------------------------------------------------------- Dockerfile
describe("deploy/docker/Dockerfile passes dockerfilelint", () => {
  const DIR = join(ROOT, "deploy/docker");
  const dockerfile = text("deploy/docker/Dockerfile");
  const findings = (configDir: string, content: string) => dockerfilelint(configDir, content).map((i) => `${i.line} ${i.rule}`);
  /** dockerfilelint with every rule on: run from a folder that has no .dockerfilelintrc. */
  const allRules = (content: string) => {
    const empty = mkdtempSync(join(tmpdir(), "dockerfilelint-"));
    try {
      return findings(empty, content);
    } finally {
      rmSync(empty, { recursive: true });
    }
  };

  test("no findings with deploy/docker/.dockerfilelintrc (as `dockerfilelint deploy/docker/Dockerfile` reads it)", () => {
    expect(findings(DIR, dockerfile)).toEqual([]);
  });

  test("the rule switched off there only hides its documented false positive: HEALTHCHECK --start-period", () => {
    const healthcheck = dockerfile.split("\n").findIndex((l) => l.startsWith("HEALTHCHECK ")) + 1;
    expect(dockerfile.split("\n")[healthcheck - 1]).toContain("--start-period=");
    expect(allRules(dockerfile)).toEqual([`${healthcheck} invalid_format`]);
    expect(allRules(dockerfile.replace(/ --start-period=\S+/, ""))).toEqual([]);
  });

  test("the linter flags an unknown instruction, an untagged base image and a bad port", () => {
    expect(findings(DIR, "FROM debian:12\nRUNN echo hi\n")).toEqual(["2 invalid_command"]);
    expect(findings(DIR, "FROM debian\nRUN true\n")).toEqual(["1 missing_tag"]);
    expect(findings(DIR, "FROM debian:12\nEXPOSE http\n")).toEqual(["2 invalid_port"]);
  });
});
