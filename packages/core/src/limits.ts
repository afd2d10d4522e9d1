/**
 * How large a deployment dyn plans: every process is one srun step of the job, and SLURM refuses
 * steps beyond MaxStepCount, "the maximum number of steps that any job can initiate … The default
 * value is 40000 steps" (slurm.conf(5)). A plan above that would be accepted by sbatch and fail part
 * way through its start, so it is refused before anything is laid out: the count is computed from
 * the worker groups, not from a plan that could hold hundreds of thousands of processes.
 */
import type { Backend, ProcessRole, Release } from "./backend.js";
import { DynError } from "./errors.js";
import { nodesPerWorker } from "./layout.js";
import type { DeploymentSpec, WorkerRole } from "./spec.js";

export const LIMITS = {
  /** SLURM's default MaxStepCount (slurm.conf(5)): srun steps one job may start. */
  maxStepCount: 40_000,
  /** Steps the script runs besides the processes: node setup, and up to two container preloads. */
  ownSteps: 3,
} as const;

/** The largest number of processes a plan may have. */
export const MAX_PROCESSES = LIMITS.maxStepCount - LIMITS.ownSteps;

interface Group {
  readonly role: WorkerRole;
  readonly workers: number;
  readonly gpusPerWorker: number;
  /** GPUs per node of the group's nodes (its component's), if not slurm.gpusPerNode. */
  readonly gpusPerNode?: number;
}

/** srun steps one worker of the group runs: one per node, or one for an MPI step or several tasks. */
function stepsPerWorker(
  g: Group,
  spec: DeploymentSpec,
  backend: Backend,
  options: unknown,
  release: Release,
) {
  const gpn = g.gpusPerNode ?? spec.slurm.gpusPerNode;
  const span = nodesPerWorker(g.gpusPerWorker, gpn, g.role);
  if (span === 1) return 1;
  if (backend.multiNode(g.role, options, release) === "mpi") return 1;
  const tasks = backend.tasksPerNode?.({ role: g.role, gpus: gpn, options, release }) ?? 1;
  return tasks > 1 ? 1 : span;
}

/** Refuse a plan whose processes would exceed SLURM's default step limit, naming the biggest group. */
export function checkScale(
  spec: DeploymentSpec,
  backend: Backend,
  groups: readonly Group[],
  options: unknown,
  release: Release,
  hosted: ProcessRole | undefined,
): void {
  const infra = (spec.infra.etcd.mode === "managed" ? 1 : 0) + (spec.infra.nats.mode === "managed" ? 1 : 0);
  let processes = infra + spec.roles.frontend.count - (hosted ? 1 : 0);
  let biggest: { group: Group; steps: number } | undefined;
  for (const g of groups) {
    const steps = g.workers * stepsPerWorker(g, spec, backend, options, release);
    processes += steps;
    if (!biggest || steps > biggest.steps) biggest = { group: g, steps };
  }
  if (processes <= MAX_PROCESSES || !biggest) return;
  const { role, workers, gpusPerWorker } = biggest.group;
  // A node count fills the groups (the CLI's remaining-capacity rule, the default split): name it;
  // without one, the group's worker count.
  const key = spec.slurm.nodes === "auto" ? `roles.${role}.workers` : "slurm.nodes";
  throw new DynError(
    "DYN_PLAN_INVALID",
    `${key}: the plan would run ${processes} processes (${role}: ${workers} workers × ${gpusPerWorker} GPU${gpusPerWorker === 1 ? "" : "s"}), above the ${MAX_PROCESSES} one job can start: each is an srun step, and SLURM's default MaxStepCount is ${LIMITS.maxStepCount} steps per job`,
    {
      key,
      hint: "use fewer workers, or more GPUs per worker (--gpus-per-prefill, --gpus-per-decode, --gpus-per-aggregated)",
    },
  );
}
