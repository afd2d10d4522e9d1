/** The #SBATCH block: all directives first (sbatch stops reading them at the first command). */
import type { Plan } from "../plan.js";
import { keepAliveDirective } from "./keepalive.js";

/** Characters sbatch reads verbatim in a directive (no quoting exists inside #SBATCH lines). */
const DIRECTIVE_SAFE = /^[A-Za-z0-9_.%@+=:,/-]+$/;

export function sbatchHeader(plan: Plan, runDir: string): string[] {
  const s = plan.spec.slurm;
  // Steps can only use the CPUs the job holds: one task per node, or one per MPI rank (TRT-LLM).
  const tasksPerNode = Math.max(1, ...plan.steps.map((step) => step.tasksPerNode));
  const lines = [`--job-name=${s.jobName}`, `--nodes=${plan.nodes}`, `--ntasks-per-node=${tasksPerNode}`];
  if (s.gpuRequest === "gpus-per-node")
    lines.push(`--gpus-per-node=${s.gpuType ? `${s.gpuType}:` : ""}${plan.gpusPerNode}`);
  if (s.gpuRequest === "gres")
    lines.push(`--gres=gpu:${s.gpuType ? `${s.gpuType}:` : ""}${plan.gpusPerNode}`);
  if (s.partition) lines.push(`--partition=${s.partition}`);
  if (s.account) lines.push(`--account=${s.account}`);
  if (s.qos) lines.push(`--qos=${s.qos}`);
  if (s.time) lines.push(`--time=${s.time}`, ...keepAliveDirective(plan.spec));
  if (s.exclusive) lines.push("--exclusive");
  // Requeue is a decision: explicit either way (sites default to requeue on node failure).
  lines.push(...(s.requeue ? ["--requeue", "--open-mode=append"] : ["--no-requeue"]));
  const output = s.output.startsWith("/") ? s.output : `${runDir}/${s.output}`;
  if (!DIRECTIVE_SAFE.test(output)) {
    throw new TypeError(`run directory ${JSON.stringify(runDir)} cannot appear in an #SBATCH line`);
  }
  lines.push(`--output=${output}`, `--chdir=${runDir}`);
  lines.push(...s.extraSbatch);
  return lines.map((l) => `#SBATCH ${l}`);
}

export function isDirectiveSafe(path: string): boolean {
  return DIRECTIVE_SAFE.test(path);
}
