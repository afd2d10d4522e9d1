/** The Plan: every process of a deployment, where it runs and what it runs. Pure data (JSON-able). */
import type { ProcessRole } from "./backend.js";
import type { PlanComponent } from "./components.js";
import type { PlanProfile } from "./profiles.js";
import type { ResolvedRelease } from "./releases.js";
import type { DeploymentSpec, WorkerRole } from "./spec.js";
import type { Arg, PortRef } from "./word.js";

export type StepRole = ProcessRole | "etcd" | "nats";

/** One srun step. */
export interface PlannedStep {
  /** Unique, filesystem-safe: `etcd`, `frontend-0`, `prefill-w1`, `decode-w0-r1`. */
  readonly id: string;
  readonly role: StepRole;
  /** Worker (or frontend) index within its role. */
  readonly worker: number;
  /** Node rank within a multi-node worker launched per node; 0 otherwise. */
  readonly rank: number;
  /** Node indices (0-based into the allocation's node list) the step spans. */
  readonly nodes: readonly number[];
  /** srun tasks per node: 1, or one per GPU for MPI steps. */
  readonly tasksPerNode: number;
  /** GPU indices used on each of its nodes. */
  readonly gpus: readonly number[];
  /** Named ports of this process. */
  readonly ports: Readonly<Record<string, PortRef>>;
  readonly argv: readonly Arg[];
  readonly env: Readonly<Record<string, Arg>>;
  readonly cwd?: string | undefined;
  readonly mpi: boolean;
  /** The /health component this step registers as (leaders only), counted for readiness. */
  readonly registers?: string | undefined;
  /** Log file, relative to the run directory. */
  readonly log: string;
  /** Files (relative to the run directory) the script writes before starting the step. */
  readonly files?: Readonly<Record<string, string>> | undefined;
}

export interface WorkerGroupPlan {
  readonly role: WorkerRole;
  readonly workers: number;
  readonly gpusPerWorker: number;
  readonly nodesPerWorker: number;
  readonly component: string;
  readonly alias: string;
  readonly dynamo: string;
  /** Heterogeneous jobs only: the --het-group (index into Plan.components) the role runs in. */
  readonly hetGroup?: number;
}

/** Something the user set that the chosen release does not use (said, never dropped silently). */
export interface PlanWarning {
  /** The spec key, e.g. model.path. */
  readonly key: string;
  readonly message: string;
}

/**
 * The token gate's per-role counter check: the counter to read on every worker's system port, or
 * why it is not read (said in the smoke event, never a silent pass).
 */
export type SmokeCountersPlan =
  | { readonly metric: string; readonly endpointLabel: string; readonly endpoint: string }
  | { readonly skipped: string };

export interface Plan {
  readonly backend: string;
  /** The Dynamo release the commands are rendered for and where that choice came from. */
  readonly release: ResolvedRelease;
  /** What the release ignores of the spec (the planner fills it; absent in older plans). */
  readonly warnings?: readonly PlanWarning[];
  /** The site profile the spec was resolved with (absent without one). */
  readonly profile?: PlanProfile;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly groups: readonly WorkerGroupPlan[];
  /**
   * Heterogeneous jobs only (roles with their own slurm/container settings): the components, each
   * with its nodes (global indices, in order) and settings. Absent for an ordinary job.
   */
  readonly components?: readonly PlanComponent[];
  readonly steps: readonly PlannedStep[];
  /** Node that hosts etcd/NATS and the first frontend. */
  readonly infraNode: number;
  readonly frontend: { readonly node: number; readonly port: PortRef };
  /** /health component → instances that must register before the deployment is ready. */
  readonly expected: Readonly<Record<string, number>>;
  /** The token gate's counter check (absent in older plans: not checked). */
  readonly smokeCounters?: SmokeCountersPlan | undefined;
  readonly spec: DeploymentSpec;
}

/** etcd and NATS steps: infrastructure the Dynamo processes need, not Dynamo processes themselves. */
export function isInfraStep(step: { readonly role: string }): boolean {
  return step.role === "etcd" || step.role === "nats";
}
