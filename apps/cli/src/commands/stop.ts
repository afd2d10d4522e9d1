/**
 * `dyn stop <job>`: scancel, then wait (bounded, with backoff) until the job has left the queue. A job
 * id dyn did not deploy (no run directory here nor in the per-user registry) is refused unless --force.
 */
import { DynError } from "@dyn/core";
import { chainJobIds, chainOf, writeStopMarker } from "../chain.js";
import { type Io, printJson } from "../io.js";
import { backoff, END_REASONS } from "../observe.js";
import { registryDir } from "../registry.js";
import { type Deployment, readDeployment } from "../run-dir.js";
import { readSweep, type SweepRecord } from "../sweep-record.js";
import { seconds } from "./deploy.js";
import { runsDirOf, targetOf } from "./shared.js";

export async function run(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  if (flags.sweep !== undefined) {
    if (args[0] !== undefined)
      throw new DynError("DYN_USAGE", `--sweep: stops a whole sweep; give it or ${args[0]}, not both`, {
        key: "--sweep",
      });
    return stopSweep(readSweep(runsDir, String(flags.sweep)).record, flags, io);
  }
  if (args[0] === undefined)
    throw new DynError("DYN_USAGE", "stop: give a job id or run directory, or --sweep <id>", {
      key: "stop",
      hint: "dyn list shows the deployments and sweeps",
    });
  const target = targetOf(args[0], runsDir, io);
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
  if (target.deployment && chainOf(target.deployment))
    return stopChain(target.deployment, jobId, timeout, flags, io);
  const before = (await slurm.queue([jobId])).get(jobId);
  if (!before) {
    const acct = (await slurm.accounting([jobId])).get(jobId);
    const slurmState = acct?.state ?? null;
    if (flags.json)
      printJson(io, stopJson({ jobId, cancelled: false, slurmState, seconds: null, chain: null }));
    else io.stdout(`job ${jobId} is not running (${slurmState ?? "not in the queue"}); nothing to stop\n`);
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
  const slurmState = acct?.state ?? null;
  const waited = Math.round((io.now() - start) / 1000);
  if (flags.json)
    printJson(io, stopJson({ jobId, cancelled: true, slurmState, seconds: waited, chain: null }));
  else io.stdout(`job ${jobId} stopped (${slurmState ?? "CANCELLED"}) after ${waited} s\n`);
  return 0;
}

/**
 * `dyn.stop/v1`: dyn's lower-case `state` from SLURM's final state (`slurmState`, sacct's word when
 * it has one); a job dyn cancelled and SLURM says nothing about is `cancelled`, else `unknown`.
 */
function stopJson(r: {
  jobId: string;
  cancelled: boolean;
  slurmState: string | null;
  seconds: number | null;
  chain: Array<{ jobId: string; cancelled: boolean }> | null;
}) {
  const state =
    (r.slurmState ? END_REASONS[r.slurmState]?.state : undefined) ?? (r.cancelled ? "cancelled" : "unknown");
  return { schemaVersion: 1, format: "dyn.stop/v1", ok: true, ...r, state };
}

/**
 * A keep-alive chain: the stop marker first (no attempt submits a successor after it, and one that
 * starts exits at once), then every job chain.jsonl names is cancelled, re-reading it on each poll:
 * a successor submitted just before the marker was seen is named there by then (the job records it
 * before it checks the marker again, and cancels it itself when it finds the marker), so none
 * survives. Done when no job of the chain is in the queue.
 */
async function stopChain(
  d: Deployment,
  jobId: string,
  timeout: number,
  flags: Record<string, unknown>,
  io: Io,
): Promise<number> {
  const slurm = await io.slurm();
  writeStopMarker(d.runDir, new Date(io.now()));
  const start = io.now();
  const delay = backoff(500, 5000);
  const cancelled = new Set<string>();
  const { signal, dispose } = io.interrupts();
  let ids: string[] = [];
  try {
    for (;;) {
      ids = [...new Set([...chainJobIds(d), jobId])];
      const queue = await slurm.queue(ids);
      const live = ids.filter((id) => queue.has(id));
      if (live.length === 0) break;
      for (const id of live) {
        if (cancelled.has(id)) continue;
        try {
          await slurm.cancel(id);
        } catch {
          // it ended between squeue and scancel: the next poll sees it gone
        }
        cancelled.add(id);
        if (!flags.json) io.stderr(`scancel ${id}: waiting for the chain to leave the queue…\n`);
      }
      if ((io.now() - start) / 1000 >= timeout)
        throw new DynError(
          "DYN_TIMEOUT",
          `job ${live.join(", ")} of the chain is still in the queue ${timeout} s after scancel`,
          { hint: `check squeue -j ${live.join(",")}; a node may be stuck completing (ask the admins)` },
        );
      await io.sleep(delay(), signal);
      if (signal.aborted) {
        io.stderr(`interrupted: the chain was stopped and its jobs are still leaving the queue\n`);
        return 130;
      }
    }
  } finally {
    dispose();
  }
  const waited = Math.round((io.now() - start) / 1000);
  const chain = ids.map((id) => ({ jobId: id, cancelled: cancelled.has(id) }));
  if (flags.json)
    printJson(
      io,
      stopJson({
        jobId,
        cancelled: cancelled.size > 0,
        slurmState: null,
        seconds: cancelled.size > 0 ? waited : null,
        chain,
      }),
    );
  else
    io.stdout(
      cancelled.size > 0
        ? `chain stopped: job ${[...cancelled].join(", ")} cancelled, none left in the queue after ${waited} s\n`
        : `chain stopped: no job of it was in the queue (${ids.join(", ")})\n`,
    );
  return 0;
}

/**
 * `dyn stop --sweep <id>`: every point's job (and, for a keep-alive point, its chain: the stop marker
 * first) is cancelled, the last point first (a point queued after another must not start when that
 * one ends), then polled until none is left in the queue.
 */
async function stopSweep(record: SweepRecord, flags: Record<string, unknown>, io: Io): Promise<number> {
  const slurm = await io.slurm();
  const timeout = seconds("--timeout", flags.timeout) ?? 120;
  const points = record.points.flatMap((p) => (p.jobId ? [{ ...p, jobId: p.jobId }] : []));
  const chains = points.flatMap((p) => {
    const d = readDeployment(p.runDir);
    return chainOf(d) ? [{ point: p, deployment: d }] : [];
  });
  for (const c of chains) writeStopMarker(c.deployment.runDir, new Date(io.now()));
  const idsNow = () => {
    const ids = points.map((p) => p.jobId).reverse();
    for (const c of chains) ids.push(...chainJobIds(c.deployment));
    return [...new Set(ids)];
  };
  const start = io.now();
  const delay = backoff(500, 5000);
  const cancelled = new Set<string>();
  const { signal, dispose } = io.interrupts();
  try {
    for (;;) {
      const ids = idsNow();
      const queue = await slurm.queue(ids);
      const live = ids.filter((id) => queue.has(id));
      if (live.length === 0) break;
      const fresh = live.filter((id) => !cancelled.has(id));
      for (const id of fresh) {
        try {
          await slurm.cancel(id);
        } catch {
          // it ended between squeue and scancel: the next poll sees it gone
        }
        cancelled.add(id);
      }
      if (fresh.length > 0 && !flags.json)
        io.stderr(`scancel ${fresh.join(" ")}: waiting for the sweep's jobs to leave the queue…\n`);
      if ((io.now() - start) / 1000 >= timeout)
        throw new DynError(
          "DYN_TIMEOUT",
          `job ${live.join(", ")} of sweep ${record.id} is still in the queue ${timeout} s after scancel`,
          { hint: `check squeue -j ${live.join(",")}; a node may be stuck completing (ask the admins)` },
        );
      await io.sleep(delay(), signal);
      if (signal.aborted) {
        io.stderr(`interrupted: sweep ${record.id} was cancelled and its jobs are still leaving the queue\n`);
        return 130;
      }
    }
  } finally {
    dispose();
  }
  const waited = Math.round((io.now() - start) / 1000);
  if (flags.json)
    printJson(io, {
      schemaVersion: 1,
      format: "dyn.sweep-stop/v1",
      ok: true,
      sweep: record.id,
      points: record.points.map((p) => ({
        index: p.index,
        label: p.label,
        jobId: p.jobId,
        cancelled: p.jobId !== null && cancelled.has(p.jobId),
      })),
      cancelled: [...cancelled],
      seconds: waited,
    });
  else
    io.stdout(
      cancelled.size > 0
        ? `sweep ${record.id} stopped: job ${[...cancelled].join(", ")} cancelled, none left in the queue after ${waited} s\n`
        : `sweep ${record.id}: no job of it was in the queue (${points.map((p) => p.jobId).join(", ")}); nothing to stop\n`,
    );
  return 0;
}
