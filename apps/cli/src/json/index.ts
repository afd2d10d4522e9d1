/**
 * Every --json document by name, built on first use (`dyn schema`, the tests): a name → its zod
 * schema. The names are what `dyn schema <name>` takes and the `dyn.<name>/v1` of each `format`.
 */
import type { z } from "@dyn/core";

export const DOCUMENTS = {
  deploy: async () => (await import("./deploy.js")).DeployDocument,
  plan: async () => (await import("./plan.js")).PlanDocument,
  status: async () => (await import("./status.js")).StatusDocument,
  list: async () => (await import("./list.js")).ListDocument,
  stop: async () => (await import("./stop.js")).StopDocument,
  bench: async () => (await import("./bench.js")).BenchDocument,
  doctor: async () => (await import("./doctor.js")).DoctorDocument,
  backends: async () => (await import("./backends.js")).BackendsDocument,
  "backends-show": async () => (await import("./backends.js")).BackendsShowDocument,
  "backends-new": async () => (await import("./backends.js")).BackendsNewDocument,
  "sweep-plan": async () => (await import("./sweep.js")).SweepPlanDocument,
  "sweep-deploy": async () => (await import("./sweep.js")).SweepDeployDocument,
  "sweep-stop": async () => (await import("./sweep.js")).SweepStopDocument,
  "sweep-bench": async () => (await import("./sweep.js")).SweepBenchDocument,
  error: async () => (await import("./error.js")).ErrorDocument,
} as const satisfies Record<string, () => Promise<z.ZodType>>;

export type DocumentName = keyof typeof DOCUMENTS;
export const DOCUMENT_NAMES = Object.keys(DOCUMENTS) as DocumentName[];

/** The documents a command line may print: its own (by its first words) and the error document. */
function documentsOf(argv: readonly string[]): DocumentName[] {
  const [command = "", sub] = argv.filter((a) => !a.startsWith("-"));
  if (command === "backends")
    return [sub === "show" ? "backends-show" : sub === "new" ? "backends-new" : "backends", "error"];
  // A config with `matrix:` (plan, deploy) or --sweep (stop, bench) prints the sweep's document.
  const sweep = `sweep-${command}`;
  if (sweep in DOCUMENTS) return [command as DocumentName, sweep as DocumentName, "error"];
  return command in DOCUMENTS ? [command as DocumentName, "error"] : ["error"];
}

/**
 * What is wrong with the stdout of `dyn <argv> --json` that exited with `code`, or null: it must be
 * exactly one document, of the command's own format (or dyn.error/v1), parse strictly with that
 * schema, and have `ok` true exactly when the exit code is 0. Nothing to check without --json, for
 * --help, or for a Ctrl-C (130) that printed nothing. The tests check every --json run with it.
 */
export async function outputProblem(
  argv: readonly string[],
  code: number,
  stdout: string,
): Promise<string | null> {
  if (!argv.includes("--json") || argv.includes("--help") || argv.includes("-h")) return null;
  if (code === 130 && stdout === "") return null;
  const what = `dyn ${argv.join(" ")}`;
  let doc: { format?: unknown; ok?: unknown };
  try {
    doc = JSON.parse(stdout);
  } catch {
    return `${what}: stdout is not one JSON document:\n${stdout}`;
  }
  const name = /^dyn\.(.+)\/v1$/.exec(String(doc.format))?.[1] as DocumentName | undefined;
  const allowed = documentsOf(argv);
  if (!name || !allowed.includes(name))
    return `${what}: format ${String(doc.format)}, expected dyn.<${allowed.join("|")}>/v1`;
  const { z } = await import("@dyn/core");
  const parsed = (await DOCUMENTS[name]()).safeParse(doc);
  if (!parsed.success) return `${what}: not a ${name} document:\n${z.prettifyError(parsed.error)}`;
  if (doc.ok !== (code === 0)) return `${what}: ok is ${String(doc.ok)} with exit code ${code}`;
  return null;
}
