/**
 * `slurm.extraSbatch` (`--sbatch-arg`) may add any #SBATCH option except one dyn writes itself
 * (render/header.ts): a second `--nodes` would silently win over the plan's node count (sbatch keeps
 * the last value of a repeated option), so a repeat is an error naming both the option and the flag
 * that sets it. Options are matched as sbatch reads them (sbatch(1)): long names, their short forms,
 * `--opt=value`, `--opt value`, `-Xvalue`, `-X value`.
 */
import type { z } from "zod";

interface Planned {
  /** Long option names this row covers. */
  readonly long: readonly string[];
  /** Their short forms (sbatch(1)). */
  readonly short?: readonly string[];
  /** What dyn writes it from. */
  readonly from: string;
  /** Whether dyn writes it for this spec (default: always). */
  readonly when?: (slurm: SlurmPart, value: string) => boolean;
}

interface SlurmPart {
  readonly gpuRequest: string;
  readonly requeue: boolean;
  readonly extraSbatch: readonly string[];
}

const requestsGpus = (s: SlurmPart) => s.gpuRequest !== "none";

// biome-ignore format: one row per directive reads best
const PLANNED: readonly Planned[] = [
  { long: ["job-name"], short: ["J"], from: "--job-name (slurm.jobName)" },
  { long: ["nodes"], short: ["N"], from: "--nodes (slurm.nodes; by default the plan's node count)" },
  { long: ["ntasks-per-node", "ntasks"], short: ["n"], from: "the plan (one task per node, one per GPU for MPI steps)" },
  { long: ["gpus-per-node", "gpus"], short: ["G"], from: "--gpus-per-node and --gpu-type (slurm.gpusPerNode); with --gpu-request none dyn requests no GPUs", when: requestsGpus },
  { long: ["gres"], from: "--gpu-request and --gpu-type (slurm.gpuRequest); with --gpu-request none dyn requests no GPUs", when: (s, v) => requestsGpus(s) && /(^|[=,\s])gpu([:,]|$)/.test(v) },
  { long: ["partition"], short: ["p"], from: "--partition (slurm.partition)" },
  { long: ["account"], short: ["A"], from: "--account (slurm.account)" },
  { long: ["qos"], short: ["q"], from: "--qos (slurm.qos)" },
  { long: ["time"], short: ["t"], from: "--time (slurm.time)" },
  { long: ["exclusive"], from: "--exclusive (slurm.exclusive)" },
  { long: ["requeue", "no-requeue"], from: "--requeue (slurm.requeue; --no-requeue by default)" },
  { long: ["open-mode"], from: "--requeue (logs are appended across attempts)", when: (s) => s.requeue },
  { long: ["output"], short: ["o"], from: "--output (slurm.output)" },
  { long: ["chdir"], short: ["D"], from: "the run directory (under --runs-dir)" },
];

/** `--nodes=3` → {name: "nodes", long: true}; `-N3` → {name: "N"}; `--nodes 3` → name "nodes". */
export function sbatchOptionName(entry: string): { name: string; long: boolean } {
  const long = /^--([A-Za-z][A-Za-z0-9-]*)/.exec(entry);
  if (long) return { name: long[1] as string, long: true };
  return { name: entry.slice(1, 2), long: false };
}

/** The planned directive an extra #SBATCH entry repeats, if any, with the option as written. */
export function plannedDirective(
  entry: string,
  slurm: SlurmPart,
): { option: string; directive: string; from: string } | undefined {
  const { name, long } = sbatchOptionName(entry);
  for (const row of PLANNED) {
    // sbatch (getopt_long) also accepts an unambiguous abbreviation: --part for --partition.
    const hit = long
      ? (row.long.find((l) => l === name) ??
        (name.length >= 4 ? row.long.find((l) => l.startsWith(name)) : undefined))
      : row.short?.includes(name)
        ? row.long[0]
        : undefined;
    if (hit === undefined) continue;
    if (row.when && !row.when(slurm, entry)) continue;
    return { option: long ? `--${name}` : `-${name}`, directive: `--${hit}`, from: row.from };
  }
  return undefined;
}

/** Refine step of DeploymentSpec: every repeat of a planned directive, each at its list index. */
export function checkExtraSbatch(spec: { readonly slurm: SlurmPart }, ctx: z.RefinementCtx): void {
  spec.slurm.extraSbatch.forEach((entry, i) => {
    const hit = plannedDirective(entry, spec.slurm);
    if (!hit) return;
    const same = hit.option === hit.directive ? "" : ` (${hit.directive})`;
    ctx.addIssue({
      code: "custom",
      path: ["slurm", "extraSbatch", i],
      message: `${JSON.stringify(entry)} repeats #SBATCH ${hit.option}${same}, which dyn writes from ${hit.from}`,
    });
  });
}
