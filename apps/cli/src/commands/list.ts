/**
 * `dyn list`: the deployments dyn knows (the runs directory's and the per-user registry's), joined
 * with ONE squeue call (and one sacct call for the jobs that ended: how each ended).
 */
import { join } from "node:path";
import { currentHost } from "../host.js";
import { type Io, printJson, style } from "../io.js";
import { endText, observe } from "../observe.js";
import { registryDir } from "../registry.js";
import { type Deployment, knownDeployments } from "../run-dir.js";
import { readSweepRecord, sweepsDir } from "../sweep-record.js";
import { pad, runsDirOf } from "./shared.js";

export async function run(flags: Record<string, unknown>, _args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const registry = registryDir(io.env);
  // A sweep's points together (where its newest point is), in point order.
  const deployments = groupSweeps(knownDeployments(runsDir, registry));
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
      // the sweep point this deployment is (dyn deploy -f sweep.yaml), null outside a sweep
      sweep: d.sweep
        ? { id: d.sweep.id, index: d.sweep.index, label: d.sweep.label, values: d.sweep.values }
        : null,
    };
  });
  const sweepIds = [...new Set(rows.flatMap((r) => (r.sweep ? [r.sweep.id] : [])))];
  const sweeps = sweepIds.map((id) => {
    const members = rows.filter((r) => r.sweep?.id === id);
    // the sweep's directory as its points name it (a point found through the registry may be elsewhere)
    const dir = deployments.find((d) => d.sweep?.id === id)?.sweep?.dir ?? join(sweepsDir(runsDir), id);
    const record = readSweepRecord(dir);
    return {
      id,
      dir,
      config: record?.config ?? null,
      matrix: record?.matrix ?? null,
      concurrency: record?.concurrency ?? null,
      points: record?.points.length ?? members.length,
      jobIds: members.flatMap((r) => (r.jobId ? [r.jobId] : [])),
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
      sweeps,
    });
    return 0;
  }
  if (rows.length === 0) {
    io.stdout(`no deployments under ${runsDir}${registry ? ` nor in ${registry}` : ""}\n`);
    return 0;
  }
  const withSweeps = sweeps.length > 0;
  const table = pad([
    [
      ...(withSweeps ? ["SWEEP", "POINT"] : []),
      "NAME",
      "JOB",
      "STATE",
      "BACKEND",
      "NODES",
      "SUBMITTED",
      "RUN DIR",
    ],
    ...rows.map((r) => [
      ...(withSweeps ? [r.sweep?.id ?? "-", r.sweep ? `${r.sweep.index} ${r.sweep.label}` : "-"] : []),
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

/** Deployments in order, each sweep's points moved together (where its first one is) in point order. */
export function groupSweeps(deployments: readonly Deployment[]): Deployment[] {
  const out: Deployment[] = [];
  const done = new Set<string>();
  for (const d of deployments) {
    const id = d.sweep?.id;
    if (id === undefined) {
      out.push(d);
      continue;
    }
    if (done.has(id)) continue;
    done.add(id);
    out.push(
      ...deployments
        .filter((m) => m.sweep?.id === id)
        .sort((a, b) => (a.sweep?.index ?? 0) - (b.sweep?.index ?? 0)),
    );
  }
  return out;
}
