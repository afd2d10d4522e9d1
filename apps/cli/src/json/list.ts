/** `dyn list --json`: `dyn.list/v1`. */
import { z } from "@dyn/core";
import { DeploymentState, End, envelope, int, str } from "./common.js";
import { ListedSweep, SweepOf } from "./sweep.js";

export const ListEntry = z.strictObject({
  name: str,
  jobId: str.nullable(),
  /** SLURM's state while the job is in the queue (PENDING, RUNNING, …), else null. */
  slurmState: str.nullable(),
  state: DeploymentState,
  end: End.nullable(),
  backend: str.nullable(),
  nodes: int().positive().nullable(),
  submittedAt: str.nullable(),
  runDir: str,
  /** The sweep point it is (dyn deploy -f sweep.yaml), null outside a sweep. */
  sweep: SweepOf.nullable(),
});

export const ListDocument = envelope("dyn.list/v1", {
  remote: str.nullable(),
  runsDir: str,
  registry: str.nullable(),
  deployments: z.array(ListEntry),
  /** Every sweep some listed deployment belongs to. */
  sweeps: z.array(ListedSweep),
});
