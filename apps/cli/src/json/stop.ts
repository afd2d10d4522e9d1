/** `dyn stop --json`: `dyn.stop/v1`. */
import { z } from "@dyn/core";
import { DeploymentState, envelope, nonNegative, str } from "./common.js";

export const StopDocument = envelope("dyn.stop/v1", {
  jobId: str,
  /** dyn cancelled it (false: it was not in the queue). */
  cancelled: z.boolean(),
  /** How it ended (cancelled, ended, timeout, …), unknown when SLURM does not say. */
  state: DeploymentState,
  /** SLURM's final state (sacct), null when SLURM does not say. */
  slurmState: str.nullable(),
  /** Seconds from scancel until it left the queue; null when nothing was cancelled. */
  seconds: nonNegative().nullable(),
  /** A keep-alive chain: every job of it; null for a lone job. */
  chain: z.array(z.strictObject({ jobId: str, cancelled: z.boolean() })).nullable(),
});
