/**
 * `dyn logs <job|run-dir> [--role r --worker n --node k] [-n lines] [-f]`: without --role, the batch
 * script's own log; with it, the matching process logs (plan.json says which file is whose). `-f`
 * polls the files (1 s) and the queue (2 s → 10 s backoff) and stops when the job leaves the queue.
 */
import { join } from "node:path";
import { DynError } from "@dyn/core";
import { runFs } from "../host.js";
import type { Io } from "../io.js";
import { backoff, readTail } from "../observe.js";
import { registryDir } from "../registry.js";
import { batchLogPath } from "../run-dir.js";
import { runsDirOf, targetOf } from "./shared.js";

export const ROLES = ["frontend", "prefill", "decode", "aggregated", "etcd", "nats"] as const;

function intFlag(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(String(v)))
    throw new DynError(
      "DYN_USAGE",
      `${flag}: expected a whole number ≥ 0, got ${JSON.stringify(String(v))}`,
      { key: flag },
    );
  return Number(v);
}

export async function run(flags: Record<string, unknown>, args: string[], io: Io): Promise<number> {
  const runsDir = await runsDirOf(flags, io);
  const target = targetOf(args[0] as string, runsDir, io);
  const d = target.deployment;
  if (!d?.plan) {
    const registry = registryDir(io.env);
    throw new DynError(
      "DYN_USAGE",
      `${args[0]}: no run directory found for it under ${runsDir}${registry ? ` nor in the registry ${registry}` : ""}`,
      {
        key: args[0],
        hint: "pass the run directory path, or --runs-dir where it lives (dyn list shows what dyn deployed)",
      },
    );
  }
  const role = flags.role as string | undefined;
  if (role !== undefined && !(ROLES as readonly string[]).includes(role))
    throw new DynError(
      "DYN_USAGE",
      `--role: expected one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`,
      { key: "--role" },
    );
  const worker = intFlag("--worker", flags.worker);
  const node = intFlag("--node", flags.node);
  const lines = intFlag("--lines", flags.lines) ?? 50;
  let files: string[];
  if (role === undefined && worker === undefined && node === undefined) {
    if (!target.jobId)
      throw new DynError("DYN_USAGE", `${args[0]}: was never submitted, so it has no batch log`, {
        key: args[0],
        hint: "dyn deploy submits it",
      });
    const spec = d.plan.spec;
    files = [batchLogPath(d.runDir, spec.slurm.output, target.jobId, spec.slurm.jobName, io.env.USER)];
  } else {
    const procs = d.plan.processes.filter(
      (p) =>
        (role === undefined || p.role === role) &&
        (worker === undefined || p.worker === worker) &&
        (node === undefined || p.nodes.includes(node)),
    );
    if (procs.length === 0) {
      const what = [
        role && `--role ${role}`,
        worker !== undefined && `--worker ${worker}`,
        node !== undefined && `--node ${node}`,
      ]
        .filter(Boolean)
        .join(" ");
      throw new DynError("DYN_USAGE", `${what}: no such process in this deployment`, {
        key: "--role",
        hint: `processes: ${d.plan.processes.map((p) => p.id).join(", ")}`,
      });
    }
    files = procs.map((p) => join(d.runDir, p.log));
  }
  const many = files.length > 1;
  const offsets = new Map<string, number>();
  for (const f of files) {
    const text = readTail(f, lines);
    if (many) io.stdout(`==> ${f} <==\n`);
    if (text === undefined) io.stderr(`(${f} does not exist yet)\n`);
    else if (text !== "") io.stdout(`${text}\n`);
    offsets.set(f, size(f));
  }
  if (!flags.follow) return 0;
  if (!target.jobId) return 0;
  const slurm = await io.slurm();
  const { signal, dispose } = io.interrupts();
  const delay = backoff(2000, 10_000);
  let nextQueueAt = io.now() + delay();
  let lastFile = many ? files[files.length - 1] : undefined;
  try {
    for (;;) {
      for (const f of files) {
        const from = offsets.get(f) ?? 0;
        const now = size(f);
        if (now < from) offsets.set(f, 0); // truncated
        if (now > from) {
          if (many && lastFile !== f) io.stdout(`==> ${f} <==\n`);
          lastFile = f;
          io.stdout(readRange(f, from, now));
          offsets.set(f, now);
        }
      }
      if (io.now() >= nextQueueAt) {
        const q = await slurm.queue([target.jobId]);
        if (!q.has(target.jobId)) {
          io.stderr(`job ${target.jobId} has left the queue\n`);
          return 0;
        }
        nextQueueAt = io.now() + delay();
      }
      await io.sleep(1000, signal);
      if (signal.aborted) return 130;
    }
  } finally {
    dispose();
  }
}

function size(path: string): number {
  try {
    return runFs().stat(path).size;
  } catch {
    return 0;
  }
}

function readRange(path: string, from: number, to: number): string {
  return runFs().readRange(path, from, to);
}
