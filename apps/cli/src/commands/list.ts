/**
 * `dyn list`: the deployments dyn knows (the runs directory's and the per-user registry's), joined
 * with ONE squeue call.
 */
import { type Io, printJson, style } from "../io.js";
import { registryDir } from "../registry.js";
import { knownDeployments } from "../run-dir.js";
import { pad, runsDirOf } from "./shared.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const registry = registryDir(io.env);
  const deployments = knownDeployments(runsDir, registry);
  const ids = deployments.map((d) => d.job?.jobId).filter((id): id is string => id !== undefined);
  const queue = ids.length > 0 ? await (await io.slurm()).queue(ids) : new Map();
  const rows = deployments.map((d) => {
    const q = d.job ? queue.get(d.job.jobId) : undefined;
    return {
      name: d.name,
      jobId: d.job?.jobId ?? null,
      queueState: q?.state ?? (d.job ? "gone" : "not-submitted"),
      backend: d.plan?.backend ?? null,
      nodes: d.plan?.nodes ?? null,
      submittedAt: d.job?.submittedAt ?? null,
      runDir: d.runDir,
    };
  });
  if (flags.json) {
    printJson(io, { format: "dyn.list/v1", runsDir, registry: registry ?? null, deployments: rows });
    return 0;
  }
  if (rows.length === 0) {
    io.stdout(`no deployments under ${runsDir}${registry ? ` nor in ${registry}` : ""}\n`);
    return 0;
  }
  const table = pad([
    ["NAME", "JOB", "QUEUE", "BACKEND", "NODES", "SUBMITTED", "RUN DIR"],
    ...rows.map((r) => [
      r.name,
      r.jobId ?? "-",
      r.queueState,
      r.backend ?? "-",
      String(r.nodes ?? "-"),
      r.submittedAt ?? "-",
      r.runDir,
    ]),
  ]).split("\n");
  table[0] = style(io).bold(table[0] ?? "");
  io.stdout(`${table.join("\n")}\n(from ${runsDir}${registry ? ` and the registry ${registry}` : ""})\n`);
  return 0;
}
