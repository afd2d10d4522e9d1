/** The #SBATCH block: all directives first (sbatch stops reading them at the first command). */
import type { PlanComponent } from "../components.js";
import type { Plan } from "../plan.js";
import { keepAliveDirective } from "./keepalive.js";

/** Characters sbatch reads verbatim in a directive (no quoting exists inside #SBATCH lines). */
const DIRECTIVE_SAFE = /^[A-Za-z0-9_.%@+=:,/-]+$/;

export function sbatchHeader(plan: Plan, runDir: string): string[] {
  if (plan.components) return hetjobHeader(plan, plan.components, runDir);
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

/**
 * A heterogeneous job: one block of per-component options per component, separated by
 * `#SBATCH hetjob` lines (sbatch(1) 22.05: components are "separated by a line containing
 * #SBATCH hetjob"; slurm.schedmd.com/heterogeneous_jobs.html). The job-wide options (job name, time,
 * requeue, output, chdir, --sbatch-arg lines) are written once, in component 0's block: sbatch
 * propagates them to the later components ("--job-name, --time, --output, --requeue … are
 * propagated"; an --output set in a later component would be ignored for the batch script, which
 * runs in component 0). Nodes, tasks, GPUs, partition, account, qos, constraint and --exclusive are
 * written for every component.
 */
function hetjobHeader(plan: Plan, components: readonly PlanComponent[], runDir: string): string[] {
  const s = plan.spec.slurm;
  const out: string[] = [];
  components.forEach((c, k) => {
    const steps = plan.steps.filter((step) => {
      const n = step.nodes[0] as number;
      return n >= c.firstNode && n < c.firstNode + c.nodes;
    });
    const tasksPerNode = Math.max(1, ...steps.map((step) => step.tasksPerNode));
    const lines = k === 0 ? [`--job-name=${s.jobName}`] : [];
    lines.push(`--nodes=${c.nodes}`, `--ntasks-per-node=${tasksPerNode}`);
    // Every component asks for its GPUs, also component 0 when no worker runs in it: on the
    // testbed's 22.05.8 a heterogeneous job whose component 0 requests no GPUs while component 1
    // does stayed pending (Resources) on an idle cluster, and started once both requested them.
    if (s.gpuRequest === "gpus-per-node")
      lines.push(`--gpus-per-node=${c.gpuType ? `${c.gpuType}:` : ""}${c.gpusPerNode}`);
    if (s.gpuRequest === "gres") lines.push(`--gres=gpu:${c.gpuType ? `${c.gpuType}:` : ""}${c.gpusPerNode}`);
    if (c.partition) lines.push(`--partition=${c.partition}`);
    if (c.account) lines.push(`--account=${c.account}`);
    if (c.qos) lines.push(`--qos=${c.qos}`);
    if (c.constraint) lines.push(`--constraint=${c.constraint}`);
    if (s.exclusive) lines.push("--exclusive");
    if (k === 0) {
      if (s.time) lines.push(`--time=${s.time}`);
      lines.push(...(s.requeue ? ["--requeue", "--open-mode=append"] : ["--no-requeue"]));
      const output = s.output.startsWith("/") ? s.output : `${runDir}/${s.output}`;
      if (!DIRECTIVE_SAFE.test(output)) {
        throw new TypeError(`run directory ${JSON.stringify(runDir)} cannot appear in an #SBATCH line`);
      }
      lines.push(`--output=${output}`, `--chdir=${runDir}`, ...s.extraSbatch);
    }
    if (k > 0) out.push("#SBATCH hetjob");
    for (const l of lines) out.push(`#SBATCH ${l}`);
  });
  return out;
}

export function isDirectiveSafe(path: string): boolean {
  return DIRECTIVE_SAFE.test(path);
}
