/**
 * Heterogeneous jobs: which SLURM component (`#SBATCH hetjob` block) each role runs in.
 *
 * A role with its own `roles.<role>.slurm` or `roles.<role>.container` gets the resources it names,
 * and the top-level `slurm` / `container` values for what it does not name. Roles whose resulting
 * settings are the same share a component. Component 0 always has the top-level settings: it holds
 * the frontend(s), etcd and NATS, and the batch script itself ("The batch script will be executed in
 * the first node in the first component of the heterogeneous job", slurm.schedmd.com/
 * heterogeneous_jobs.html). Roles with the top-level settings join component 0; the others follow
 * in role order (prefill, decode, aggregated). One component = an ordinary job.
 */
import { DynError } from "./errors.js";
import type { ContainerSpec, DeploymentSpec, RoleSlurmSettings, WorkerRole } from "./spec.js";

/** What a component asks SLURM for (per component in the #SBATCH block) and runs its processes in. */
export interface ComponentSettings {
  readonly partition?: string | undefined;
  readonly account?: string | undefined;
  readonly qos?: string | undefined;
  readonly gpusPerNode: number;
  readonly gpuType?: string | undefined;
  readonly constraint?: string | undefined;
  readonly container: ContainerSpec;
}

/** One component of a heterogeneous job in the plan: its settings and its nodes (global indices). */
export interface PlanComponent extends ComponentSettings {
  /** --het-group index (0 = the batch script's component, with the frontend and etcd/NATS). */
  readonly index: number;
  /** Worker roles placed in it; component 0 also runs the frontend(s) and etcd/NATS. */
  readonly roles: readonly WorkerRole[];
  /** Its nodes are firstNode … firstNode + nodes - 1 of the job's node list (components in order). */
  readonly firstNode: number;
  readonly nodes: number;
}

/** The settings of the top-level `slurm` and `container`. */
export function baseSettings(spec: DeploymentSpec): ComponentSettings {
  const s = spec.slurm;
  return {
    partition: s.partition,
    account: s.account,
    qos: s.qos,
    gpusPerNode: s.gpusPerNode,
    gpuType: s.gpuType,
    constraint: undefined,
    container: spec.container,
  };
}

/** A role's settings: its own where it names them, the top-level ones otherwise. */
export function roleSettings(spec: DeploymentSpec, role: WorkerRole): ComponentSettings {
  const base = baseSettings(spec);
  const group = spec.roles[role];
  const own: RoleSlurmSettings = group?.slurm ?? {};
  const container = group?.container;
  return {
    partition: own.partition ?? base.partition,
    account: own.account ?? base.account,
    qos: own.qos ?? base.qos,
    gpusPerNode: own.gpusPerNode ?? base.gpusPerNode,
    gpuType: own.gpuType ?? base.gpuType,
    constraint: own.constraint ?? base.constraint,
    // A role's pyxis container has no `infra` (etcd and NATS run in component 0's): "image" stands in.
    container: container
      ? container.kind === "pyxis"
        ? { ...container, infra: "image" }
        : container
      : base.container,
  };
}

/** Deterministic text of a settings object (keys in a fixed order): equal text = one component. */
function keyOf(s: ComponentSettings): string {
  return JSON.stringify([s.partition, s.account, s.qos, s.gpusPerNode, s.gpuType, s.constraint, s.container]);
}

export interface ComponentAssignment {
  /** Settings per component, component 0 first. */
  readonly settings: readonly ComponentSettings[];
  /** Component of each worker role. */
  readonly of: ReadonlyMap<WorkerRole, number>;
}

/** Component of each role (in `roles` order), and each component's settings. */
export function assignComponents(spec: DeploymentSpec, roles: readonly WorkerRole[]): ComponentAssignment {
  const base = baseSettings(spec);
  const settings: ComponentSettings[] = [base];
  const keys = [keyOf(base)];
  const of = new Map<WorkerRole, number>();
  for (const role of roles) {
    const s = roleSettings(spec, role);
    const key = keyOf(s);
    let index = keys.indexOf(key);
    if (index < 0) {
      index = keys.length;
      keys.push(key);
      settings.push(s);
    }
    of.set(role, index);
  }
  return { settings, of };
}

/** The spec key that puts `role` in a component of its own (its slurm section, else its container). */
export function roleKey(spec: DeploymentSpec, role: WorkerRole): string {
  return spec.roles[role]?.slurm && Object.keys(spec.roles[role]?.slurm ?? {}).length > 0
    ? `roles.${role}.slurm`
    : `roles.${role}.container`;
}

/**
 * Combinations a heterogeneous job cannot run, refused naming the key: prefill and decode may share
 * a node only inside one component (colocate), and a legacy graph's worker runs inside the frontend
 * process, which is in component 0.
 */
export function checkComponents(
  spec: DeploymentSpec,
  assignment: ComponentAssignment,
  hosted: WorkerRole | undefined,
): void {
  if (assignment.settings.length < 2) return;
  const p = assignment.of.get("prefill");
  const d = assignment.of.get("decode");
  if (spec.roles.colocate && p !== undefined && d !== undefined && p !== d) {
    const moved = p !== 0 ? "prefill" : "decode";
    throw new DynError(
      "DYN_PLAN_INVALID",
      `roles.colocate: prefill and decode cannot share a node, because ${roleKey(spec, moved)} puts ${moved} in component ${assignment.of.get(moved)} of a heterogeneous job (its own nodes)`,
      {
        key: "roles.colocate",
        hint: `drop roles.colocate, or give prefill and decode the same slurm and container settings`,
      },
    );
  }
  if (hosted && (assignment.of.get(hosted) ?? 0) !== 0) {
    throw new DynError(
      "DYN_UNSUPPORTED",
      `${roleKey(spec, hosted)}: the legacy graph runs one ${hosted} worker inside the frontend process, which runs in component 0 with the top-level slurm and container settings`,
      {
        key: roleKey(spec, hosted),
        hint: `drop ${roleKey(spec, hosted)}, or use a Dynamo release without a dynamo serve graph`,
      },
    );
  }
}
