/**
 * Import rules for src/ (docs/architecture.md, "Module boundaries"), checked by `npm run check`
 * and test/unit/architecture.test.ts. Type-only imports count: a driver's types outside
 * src/adapters/ are a dependency on the driver all the same.
 *
 * TypeScript is parsed with swc (@swc/core): dependency-cruiser's tsc parser needs TypeScript's
 * JavaScript API, which typescript 7 (the Go port) no longer has.
 */

/** Packages that talk to a server or own a process-wide registry: used only in src/adapters/. */
const DRIVERS = ["postgres", "ioredis", "@platformatic/kafka", "@electric-sql/[^/]+", "prom-client", "bun"];
/** Sockets and protocols of Node's standard library, which only our own wire clients use. */
const SOCKETS = ["net", "tls", "dgram", "http2"];

module.exports = {
  forbidden: [
    {
      name: "engine-is-pure",
      comment: "The scenario model is pure: typed arrays in, typed arrays out, no I/O, so it runs in a Bun Worker and is tested exactly. It imports only its own files.",
      severity: "error",
      from: { path: "^src/engine/" },
      to: { pathNot: "^src/engine/" },
    },
    {
      name: "drivers-only-in-adapters",
      comment: "Only src/adapters/ imports a database, cache, queue or metrics driver (or Bun's built-in clients); features depend on ports.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/adapters/" },
      to: { path: `(^|node_modules/)(${DRIVERS.join("|")})(/|$)` },
    },
    {
      name: "sockets-only-in-adapters",
      comment: "Raw sockets are wire clients: they belong in src/adapters/ (pg-copy.ts).",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/adapters/" },
      to: { dependencyTypes: ["core"], path: `^(node:)?(${SOCKETS.join("|")})$` },
    },
    {
      name: "repositories-built-once",
      comment:
        "A metadata repository is built by createMetadata (src/metadata.ts) and handed on as its port; anything else imports only its types, so no feature builds a second one on its own Sql.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/metadata\\.ts$" },
      to: { path: "^src/[^/]+/(repo|outbox|bump-repo|output-meta)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "no-circular",
      comment: "Modules import one way.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import nothing resolves is a typo or a missing package, and a rule above could miss it.",
      severity: "error",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: "swc",
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.ts$" },
    // As Bun resolves packages: through package.json "exports" (@platformatic/kafka has no "main").
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["bun", "import", "require", "node", "default"] },
  },
};
