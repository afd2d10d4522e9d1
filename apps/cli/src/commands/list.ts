/**
 * `dyn list`: the deployments dyn knows (the runs directory's and the per-user registry's), joined
 * with ONE squeue call (and one sacct call for the jobs that ended: how each ended).
 */
import { currentHost } from "../host.js";
import { type Io, printJson, style } from "../io.js";
import { endText, observe } from "../observe.js";
import { registryDir } from "../registry.js";
import { knownDeployments } from "../run-dir.js";
import { pad, runsDirOf } from "./shared.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const registry = registryDir(io.env);
  const deployments = knownDeployments(runsDir, registry);
  const targets = deployments.map((d) => ({ jobId: d.job?.jobId, deployment: d }));
  const observed = targets.some((t) => t.jobId) ? await observe(await io.slurm(), targets) : [];
  const rows = deployments.map((d, i) => {
    const o = observed[i];
    return {
      name: d.name,
      jobId: d.job?.jobId ?? null,
      // SLURM's state while the job is in the queue, else null
      slurmState: o?.live && o.queue ? o.queue.state : null,
      // dyn status's state, and how the job ended (its `end`) once it did
      state: o?.state ?? "not_submitted",
      end: o?.end ?? null,
      backend: d.plan?.backend ?? null,
      nodes: d.plan?.nodes ?? null,
      submittedAt: d.job?.submittedAt ?? null,
      runDir: d.runDir,
    };
  });
  if (flags.json) {
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.list/v1",
      ok: true,
      remote: currentHost().remote ?? null,
      runsDir,
      registry: registry ?? null,
      deployments: rows,
    });
    return 0;
  }
  if (rows.length === 0) {
    io.stdout(`no deployments under ${runsDir}${registry ? ` nor in ${registry}` : ""}\n`);
    return 0;
  }
  const table = pad([
    ["NAME", "JOB", "STATE", "BACKEND", "NODES", "SUBMITTED", "RUN DIR"],
    ...rows.map((r) => [
      r.name,
      r.jobId ?? "-",
      r.end ? endText(r.end) : r.state,
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
