// The direction of the code follows the direction of the data (docs/architecture.md):
// the HTTP surface may call jobs and the coordinator, jobs may call the coordinator, the consumer
// calls neither, and everything may use src/shared. Checked by `npm run deps` (part of `npm run check`)
// and by test/node/dependencies.test.ts.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycle",
      comment: "An import cycle: move the shared part into a module that imports neither side.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "shared-is-a-leaf",
      comment: "src/shared is used by every stage, so it imports none of them.",
      severity: "error",
      from: { path: "^src/shared/" },
      to: { path: "^src/", pathNot: "^src/shared/" },
    },
    {
      name: "mapping-is-pure",
      comment: "The mappers turn payloads into rows; they know no stage.",
      severity: "error",
      from: { path: "^src/mapping/" },
      to: { path: "^src/", pathNot: "^src/(mapping|shared)/" },
    },
    {
      name: "tables-know-no-stage",
      comment: "The table writers are shared by the consumer and the bulk path; they import neither.",
      severity: "error",
      from: { path: "^src/tables/" },
      to: { path: "^src/", pathNot: "^src/(tables|mapping|shared)/" },
    },
    {
      name: "lake-knows-no-stage",
      comment: "The lake's table code (Iceberg, Parquet, stores) is called by the jobs; it knows none of them.",
      severity: "error",
      from: { path: "^src/lake/" },
      to: { path: "^src/", pathNot: "^src/(lake|shared)/" },
    },
    {
      name: "table-format-is-pure",
      comment: "The Iceberg and Parquet format code is pure: the stores and the job do the I/O around it.",
      severity: "error",
      from: { path: "^src/lake/(iceberg|parquet)/" },
      to: { path: "^src/", pathNot: "^src/lake/(iceberg|parquet)/" },
    },
    {
      name: "consumer-calls-no-job-or-coordinator",
      comment: "The queue consumer is downstream of ingress and independent of the jobs and the coordinator.",
      severity: "error",
      from: { path: "^src/consumers/" },
      to: { path: "^src/(ingress|cron|durable)/" },
    },
    {
      name: "coordinator-calls-no-stage-above",
      comment: "The ShopCoordinator is called by the HTTP surface and the jobs, never the other way round.",
      severity: "error",
      from: { path: "^src/durable/" },
      to: { path: "^src/(ingress|cron|consumers)/" },
    },
    {
      name: "jobs-call-no-http-or-consumer",
      comment: "Scheduled jobs send work down the queue; they do not import the HTTP surface or the consumer.",
      severity: "error",
      from: { path: "^src/cron/" },
      to: { path: "^src/(ingress|consumers)/" },
    },
    {
      name: "one-room-per-job",
      comment: "A job's folder is private to it: share through src/cron/*.ts beside the dispatcher.",
      severity: "error",
      from: { path: "^src/cron/([^/]+)/" },
      to: { path: "^src/cron/[^/]+/", pathNot: "^src/cron/$1/" },
    },
    {
      name: "http-calls-no-consumer",
      comment: "Ingress hands events to the queue; it never runs the consumer itself.",
      severity: "error",
      from: { path: "^src/ingress/" },
      to: { path: "^src/consumers/" },
    },
    {
      name: "only-the-entry-imports-the-entry",
      comment: "src/index.ts wires handlers; nothing inside src depends on it.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "cli-talks-over-http",
      comment:
        "The operator CLI runs in Node and reaches the Worker through its admin API; it may read only pure helpers of src/shared.",
      severity: "error",
      from: { path: "^cli/" },
      to: { path: "^src/", pathNot: "^src/shared/" },
    },
    {
      name: "the-worker-knows-no-cli",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^cli/" },
    },
    {
      name: "no-test-code-in-src",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|scripts)/" },
    },
    {
      name: "not-to-unresolvable",
      comment: "An import that does not resolve (a typo, or a package missing from package.json).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, pathNot: "^cloudflare:" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|test|bench|scripts)/" },
    // Type-only imports count: a cycle through types is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["workerd", "worker", "import", "types", "default"],
      extensions: [".ts", ".tsx", ".js", ".mjs"],
    },
  },
};
