/**
 * Keep-alive chains on the CLI side (core's chain.ts has the file names and the parsing): which job
 * of a run directory's chain is current, every attempt observed with one squeue call, the current
 * URL from current-url, and the stop marker `dyn stop` writes. A run directory without keep-alive
 * has no chain, and every command treats it exactly as before.
 */

import { join } from "node:path";
import { attemptDir, CHAIN_FILES, type ChainAttempt, parseChain } from "@dyn/core";
import { currentHost, runFs } from "./host.js";
import { type Observation, observe, type Target } from "./observe.js";
import type { RegistryEntry } from "./registry.js";
import type { Deployment } from "./run-dir.js";
import type { Slurm } from "./slurm.js";

export interface ChainEntry {
  readonly attempt: number;
  readonly jobId: string | null;
  /** The attempt's own state (as a lone job's: queued, starting, ready, ended, timeout, …). */
  readonly state: string;
  readonly live: boolean;
  /** The URL it served (history once it ended). */
  readonly url: string | null;
  readonly submittedBy: string | null;
  /** It drained after its successor was READY (overlap). */
  readonly handedOver: boolean;
  /** Why no successor followed it, when the job said (stopped, maxAttempts, sbatch failed). */
  readonly refused: string | null;
}

// Through the host seam: with --remote the chain's files are on the cluster's filesystem.
const read = (path: string) => {
  try {
    return runFs().readText(path);
  } catch {
    return undefined;
  }
};

/** The chain of a keep-alive deployment (attempt 1 at least), else undefined. */
export function chainOf(d: Deployment | undefined): ChainAttempt[] | undefined {
  if (!d?.plan?.spec.lifetime?.keepAlive) return undefined;
  const chain = parseChain(read(join(d.runDir, CHAIN_FILES.chain)) ?? "", d.job?.jobId);
  return chain.length > 0 ? chain : undefined;
}

/** Attempt n's files (status.jsonl, logs/) as a deployment of their own. */
export function attemptDeployment(d: Deployment, n: number): Deployment {
  return n <= 1 ? d : { ...d, runDir: join(d.runDir, attemptDir(n)) };
}

/** current-url's one line, or null. */
export function currentUrl(runDir: string): string | null {
  return read(join(runDir, CHAIN_FILES.currentUrl))?.trim() || null;
}

/** `dyn stop`'s marker: no attempt submits a successor after this, and none that starts runs. */
export function writeStopMarker(runDir: string, now: Date): void {
  runFs().writeFile(join(runDir, CHAIN_FILES.stop), `${now.toISOString()}\n`);
}

/**
 * The attempt that is serving: the newest that is live and ready, else the newest live one (it is
 * starting, or queued behind its predecessor), else the newest with a job.
 */
function currentIndex(obs: readonly Observation[]): number {
  const newest = (ok: (o: Observation) => boolean) => {
    for (let i = obs.length - 1; i >= 0; i--) if (ok(obs[i] as Observation)) return i;
    return -1;
  };
  const ready = newest((o) => o.live && o.state === "ready");
  if (ready >= 0) return ready;
  const live = newest((o) => o.live);
  if (live >= 0) return live;
  return Math.max(
    0,
    newest((o) => o.jobId !== null),
  );
}

/**
 * observe() over every target, a keep-alive deployment's every attempt included (still one squeue
 * and one sacct call): its observation is the current attempt's, with `chain` listing them all,
 * the run directory itself as runDir and current-url as the URL while the chain is live.
 * `register` is called for each attempt's job id (the registry then finds it from any directory).
 */
export async function observeChains(
  slurm: Slurm,
  targets: readonly Target[],
  register?: (entry: RegistryEntry) => void,
): Promise<Observation[]> {
  const plans = targets.map((t) => {
    const chain = chainOf(t.deployment);
    const d = t.deployment;
    if (!chain || !d) return { targets: [t], chain: undefined };
    return {
      chain,
      targets: chain.map((a) => ({
        jobId: a.jobId ?? undefined,
        deployment: attemptDeployment(d, a.attempt),
      })),
    };
  });
  const all = await observe(
    slurm,
    plans.flatMap((p) => p.targets),
  );
  let at = 0;
  return plans.map((p, i) => {
    const obs = all.slice(at, at + p.targets.length);
    at += p.targets.length;
    const target = targets[i] as Target;
    if (!p.chain || !target.deployment) return obs[0] as Observation;
    const d = target.deployment;
    const entries: ChainEntry[] = p.chain.map((a, k) => {
      const o = obs[k] as Observation;
      if (register && a.jobId && a.attempt > 1)
        register({
          jobId: a.jobId,
          cluster: d.job?.cluster ?? null,
          runDir: d.runDir,
          name: d.name,
          backend: d.plan?.backend ?? null,
          submittedAt: d.job?.submittedAt ?? "",
          remote: currentHost().remote ?? null,
        });
      return {
        attempt: a.attempt,
        jobId: a.jobId,
        state: a.handedOver && !o.live ? "handed_over" : o.state,
        live: o.live,
        url: a.url ?? o.lastUrl,
        submittedBy: a.submittedBy,
        handedOver: a.handedOver,
        refused: a.refused,
      };
    });
    const current = obs[currentIndex(obs)] as Observation;
    const live = obs.some((o) => o.live);
    return {
      ...current,
      runDir: d.runDir,
      name: d.name,
      url: current.live ? (currentUrl(d.runDir) ?? current.url) : null,
      live: current.live || live,
      chain: entries,
    };
  });
}

/** Every job id of a chain (for dyn stop), newest first, from a fresh read of chain.jsonl. */
export function chainJobIds(d: Deployment): string[] {
  const chain = chainOf(d) ?? [];
  return chain
    .map((a) => a.jobId)
    .filter((id): id is string => id !== null)
    .reverse();
}
