import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/index.js";
import type { AccountingEntry, ProbeResult, QueueEntry, Slurm } from "../src/slurm.js";
import { checkJson } from "./json-check.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Every sleep the command asked for, in ms. */
  sleeps: number[];
}

export function tmp(prefix = "dyn-cli-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Run the CLI in-process. Time is virtual: sleep() advances the clock instantly. */
export async function run(
  argv: string[],
  opts: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    slurm?: Slurm;
    isTTY?: boolean;
    abortAfterSleeps?: number;
  } = {},
): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  let clock = 1_750_000_000_000;
  const slept: number[] = [];
  const controller = new AbortController();
  const code = await main(argv, {
    cwd: opts.cwd ?? tmp(),
    env: opts.env ?? {},
    isTTY: opts.isTTY ?? false,
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      slept.push(ms);
      if (opts.abortAfterSleeps !== undefined && slept.length >= opts.abortAfterSleeps) controller.abort();
    },
    slurm: async () => opts.slurm ?? new FakeSlurm(),
    interrupts: () => ({ signal: controller.signal, dispose: () => {} }),
  });
  await checkJson(argv, { code, stdout });
  return { code, stdout, stderr, sleeps: slept };
}

export const firstLine = (s: string) => s.split("\n")[0] ?? "";

/** A SLURM that records calls. `script` decides what each call sees. */
export class FakeSlurm implements Slurm {
  calls: Array<{ cmd: string; args: unknown }> = [];
  /** Jobs in the queue: id → entry. */
  jobs = new Map<string, QueueEntry>();
  /** Jobs that ended and slurmctld still remembers (squeue --states=all): id → final entry. */
  ended = new Map<string, QueueEntry>();
  acct = new Map<string, AccountingEntry>();
  nextJobId = "4242";
  cluster: string | undefined;
  submitError: Error | undefined;
  /** Called after every queue() call (to make the job progress). */
  onQueue: ((n: number) => void) | undefined;
  /** Queue polls until a cancelled job disappears. */
  cancelDelay = 2;
  probes = new Map<string, ProbeResult>();
  private cancelled = new Map<string, number>();

  /** Each submission takes the next id (4242, 4243, …) instead of nextJobId every time. */
  countIds = false;
  /** Fail the n-th submission (1-based) with submitError only. */
  failSubmission: number | undefined;
  async submit(scriptPath: string, options: { cwd: string; afterAny?: string | undefined }) {
    const args =
      options.afterAny === undefined
        ? { scriptPath, cwd: options.cwd }
        : { scriptPath, cwd: options.cwd, afterAny: options.afterAny };
    this.calls.push({ cmd: "sbatch", args });
    const n = this.count("sbatch");
    if (this.submitError && (this.failSubmission === undefined || this.failSubmission === n))
      throw this.submitError;
    const jobId = this.nextJobId;
    if (this.countIds) this.nextJobId = String(Number(jobId) + 1);
    this.jobs.set(jobId, queued(jobId, "PENDING", options.afterAny ? "Dependency" : "Priority"));
    return this.cluster ? { jobId, cluster: this.cluster } : { jobId };
  }
  async queue(jobIds: readonly string[], options?: { readonly ended?: boolean }) {
    this.calls.push({ cmd: "squeue", args: [...jobIds] });
    for (const [id, left] of this.cancelled) {
      if (left <= 0) this.jobs.delete(id);
      else this.cancelled.set(id, left - 1);
    }
    const out = new Map<string, QueueEntry>();
    for (const id of jobIds) {
      const e = this.jobs.get(id) ?? (options?.ended ? this.ended.get(id) : undefined);
      if (e) out.set(id, e);
    }
    this.onQueue?.(this.calls.filter((c) => c.cmd === "squeue").length);
    return out;
  }
  async accounting(jobIds: readonly string[]) {
    this.calls.push({ cmd: "sacct", args: [...jobIds] });
    const out = new Map<string, AccountingEntry>();
    for (const id of jobIds) {
      const e = this.acct.get(id);
      if (e) out.set(id, e);
    }
    return out;
  }
  async cancel(jobId: string) {
    this.calls.push({ cmd: "scancel", args: jobId });
    const e = this.jobs.get(jobId);
    if (e) this.jobs.set(jobId, { ...e, state: "COMPLETING" });
    this.cancelled.set(jobId, this.cancelDelay);
    this.acct.set(jobId, { jobId, state: "CANCELLED", exitCode: "0:15" });
  }
  async probe(command: string, args: readonly string[]) {
    this.calls.push({ cmd: command, args: [...args] });
    return (
      this.probes.get(`${command} ${args.join(" ")}`) ?? { found: false, code: null, stdout: "", stderr: "" }
    );
  }
  count(cmd: string) {
    return this.calls.filter((c) => c.cmd === cmd).length;
  }
}

export function queued(jobId: string, state = "RUNNING", reason = "None"): QueueEntry {
  return { jobId, state, reason, nodes: "n[1-2]", name: "dynamo", time: "0:05" };
}

/** Entries of a directory (empty when it does not exist). */
export function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function writeConfig(dir: string, text: string, name = "dyn.yaml"): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

export const FIXTURE_PROJECT = join(import.meta.dirname, "fixtures", "project");
