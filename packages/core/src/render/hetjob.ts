/**
 * Heterogeneous jobs in the renderer: a plan with `components` is several node lists, one per
 * component, with node indices global across them. Everything that targets nodes asks here which
 * component a node is in; a plan without components is one component, so nothing changes for it.
 *
 * Facts (slurm.schedmd.com/heterogeneous_jobs.html; srun(1)/sbatch(1) of 22.05, and checked on the
 * testbed's 22.05.8): in the batch script SLURM_JOB_NODELIST is component 0's list only, component
 * k's is SLURM_JOB_NODELIST_HET_GROUP_k, SLURM_HET_SIZE the number of components; an srun step runs
 * in component 0 unless `--het-group=k` ("The default value is --het-group=0"), and a step of
 * component 0 naming a node of component 1 is refused ("Requested node configuration is not
 * available"); `--overlap` steps of several components run at once; inside a step of component k
 * SLURM_NODEID counts that component's nodes from 0, while SLURM_JOB_ID stays the leader's id.
 */
import type { PlanComponent } from "../components.js";
import type { Plan } from "../plan.js";
import type { ContainerSpec } from "../spec.js";

/** The component a node index belongs to (undefined for an ordinary job). */
export function componentOf(plan: Plan, node: number): PlanComponent | undefined {
  const cs = plan.components;
  if (!cs) return undefined;
  for (const c of cs) if (node >= c.firstNode && node < c.firstNode + c.nodes) return c;
  return cs[0];
}

/** The container a step on `node` runs in: its component's, else the spec's. */
export function containerAt(plan: Plan, node: number): ContainerSpec {
  return componentOf(plan, node)?.container ?? plan.spec.container;
}

/** `--het-group=k` for a step on `node` of a heterogeneous job; nothing for an ordinary job. */
export function hetGroupFlag(plan: Plan, node: number): string | undefined {
  const c = componentOf(plan, node);
  return c ? `--het-group=${c.index}` : undefined;
}
