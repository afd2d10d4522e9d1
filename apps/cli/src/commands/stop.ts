/**
 * `dyn stop <job>`: scancel, then wait (bounded, with backoff) until the job has left the queue. A job
 * id dyn did not deploy (no run directory here nor in the per-user registry) is refused unless --force.
 */
import { DynError } from "@dyn/core";
import { type Io, printJson } from "../io.js";
import { backoff } from "../observe.js";
import { registryDir } from "../registry.js";
import { seconds } from "./deploy.js";
import { runsDirOf, targetOf } from "./shared.js";

export async function run(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const target = targetOf(args[0] as string, runsDir, io);
  const jobId = target.jobId;
  if (!jobId)
    throw new DynError("DYN_USAGE", `${args[0]}: was never submitted, nothing to stop`, { key: args[0] });
  if (!target.deployment && flags.force !== true) {
    const registry = registryDir(io.env);
    throw new DynError(
      "DYN_USAGE",
      `job ${jobId}: not deployed by dyn (no run directory under ${runsDir}${registry ? ` nor in the registry ${registry}` : ""}); refusing to cancel it`,
      { key: args[0], hint: `dyn stop ${jobId} --force cancels it anyway; dyn list shows what dyn deployed` },
    );
  }
  const timeout = seconds("--timeout", flags.timeout) ?? 120;
  const slurm = await io.slurm();
  const before = (await slurm.queue([jobId])).get(jobId);
  if (!before) {
    const acct = (await slurm.accounting([jobId])).get(jobId);
    const state = acct?.state ?? "not in the queue";
    if (flags.json) printJson(io, { format: "dyn.stop/v1", jobId, cancelled: false, state });
    else io.stdout(`job ${jobId} is not running (${state}); nothing to stop\n`);
    return 0;
  }
  await slurm.cancel(jobId);
  if (!flags.json) io.stderr(`scancel ${jobId}: waiting for the job to leave the queue…\n`);
  const start = io.now();
  const delay = backoff(500, 5000);
  const { signal, dispose } = io.interrupts();
  try {
    for (;;) {
      await io.sleep(delay(), signal);
      if (signal.aborted) {
        io.stderr(`interrupted: job ${jobId} was cancelled and is still leaving the queue\n`);
        return 130;
      }
      const entry = (await slurm.queue([jobId])).get(jobId);
      if (!entry) break;
      if ((io.now() - start) / 1000 >= timeout) {
        throw new DynError(
          "DYN_TIMEOUT",
          `job ${jobId} is still in the queue (${entry.state}) ${timeout} s after scancel`,
          {
            hint: `check squeue -j ${jobId}; a node may be stuck completing (ask the admins)`,
          },
        );
      }
    }
  } finally {
    dispose();
  }
  const acct = (await slurm.accounting([jobId])).get(jobId);
  const state = acct?.state ?? "CANCELLED";
  const waited = Math.round((io.now() - start) / 1000);
  if (flags.json) printJson(io, { format: "dyn.stop/v1", jobId, cancelled: true, state, seconds: waited });
  else io.stdout(`job ${jobId} stopped (${state}) after ${waited} s\n`);
  return 0;
}
