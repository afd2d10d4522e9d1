/**
 * Shared helpers for the end-to-end tests: run the real `dyn` CLI against the running testbed
 * (testbed/up.sh), with the stand-in Dynamo runtime on PATH/PYTHONPATH, and inspect the nodes.
 * Every wait is a bounded poll on a condition.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { outputProblem } from "@dyn/cli/json";
import { parseStatusLines, type StatusEvent } from "@dyn/core";

export const repo = join(import.meta.dirname, "../../..");
export const dynBin = join(repo, "apps/cli/bin/dyn.js");
const runtime = join(repo, "testbed/runtime");

/** Nodes of the testbed (TB_NODES), from sinfo. */
export function testbedNodes(): string[] {
  const out = execFileSync("sinfo", ["-h", "-N", "-o", "%N"], { encoding: "utf8" });
  return [...new Set(out.split("\n").filter(Boolean))].sort();
}

/** A runs directory on the filesystem the testbed's nodes share (the whole machine's). */
export function newRunsDir(label: string): string {
  return mkdtempSync(join("/tmp", `dyn-e2e-${label}-`));
}

/** Environment for dyn: the stand-in Dynamo on PATH/PYTHONPATH, inherited by sbatch (--export=ALL). */
export function standinEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(runtime, "bin")}:${process.env.PATH}`,
    PYTHONPATH: join(runtime, "python"),
    NO_COLOR: "1",
    ...extra,
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI as a user would (a real process), with a hard timeout; `bin` for an installed copy. */
export function dyn(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    bin?: string;
    /** A command that runs node, e.g. setpriv to run as another user: `<wrap...> node <bin> <args>`. */
    wrap?: readonly string[];
  } = {},
): Promise<Run> {
  const argv = [...(options.wrap ?? []), process.execPath, options.bin ?? dynBin, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: options.env ?? standinEnv(),
      cwd: options.cwd ?? repo,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`dyn ${args.join(" ")} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      // every --json document the e2e tests read is checked against its documented schema
      outputProblem(args, code ?? -1, stdout).then(
        (problem) =>
          problem ? reject(new Error(`${problem}\nstderr: ${stderr}`)) : resolve({ code, stdout, stderr }),
        reject,
      );
    });
  });
}

export function json<T = Record<string, unknown>>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${run.code}):\n${run.stdout}\nstderr: ${run.stderr}`);
  }
}

/** Poll `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

export function inQueue(jobId: string): boolean {
  const out = execFileSync("squeue", ["-h", "-j", jobId, "-o", "%i"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return out.trim() !== "";
}

/**
 * Processes left in the nodes' namespaces other than SLURM's own daemons: after a job ends there must
 * be none (no orphaned worker, etcd or NATS).
 */
export function leftoverProcesses(): string[] {
  const left: string[] = [];
  for (const node of testbedNodes()) {
    let pids: string[] = [];
    try {
      pids = execFileSync("ip", ["netns", "pids", `stb-${node}`], { encoding: "utf8" })
        .split("\n")
        .filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of pids) {
      let comm = "";
      let args = "";
      try {
        comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        args = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      } catch {
        continue; // exited meanwhile
      }
      if (comm === "slurmd" || comm === "slurmstepd") continue;
      left.push(`${node}: ${pid} ${args || comm}`);
    }
  }
  return left;
}

/** POST a chat completion to the deployment's frontend. */
export async function chat(
  url: string,
  model: string,
  text = "hello from e2e",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: text }] }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function health(
  url: string,
): Promise<{ instances: Array<{ component: string; host: string }> }> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as { instances: Array<{ component: string; host: string }> };
}

/** Lines of the fake pyxis request log for one job. */
export function pyxisRequests(
  jobId: string,
): Array<{ job: string; step: string; node: string; options: Record<string, string> }> {
  let text = "";
  try {
    text = readFileSync("/var/lib/slurm-testbed/pyxis-requests.log", "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.job === jobId);
}

/** What `dyn deploy --json` prints (the fields the tests read). */
export interface Deployed {
  jobId: string;
  runDir: string;
  wait: { outcome: string; url: string | null; failed: { component: string; message: string } | null };
  plan: { spec: { model: { path: string } } };
}

/** One prefill and one decode worker of one GPU each: on two nodes, so a request crosses nodes. */
export const SMALL = [
  "--num-prefill-workers",
  "1",
  "--num-decode-workers",
  "1",
  "--gpus-per-prefill",
  "1",
  "--gpus-per-decode",
  "1",
];

const deployed: string[] = [];

/** `dyn deploy … --json` into a fresh runs directory; the job is stopped by `stopDeployed`. */
export async function deploy(
  label: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; wait?: boolean; cwd?: string; bin?: string } = {},
): Promise<{ run: Run; d: Deployed; runs: string }> {
  const runs = newRunsDir(label.replaceAll(/\W+/g, "-"));
  const wait = options.wait === false ? [] : ["--wait", "--timeout", "120"];
  const run = await dyn(["deploy", ...args, "--runs-dir", runs, ...wait, "--json"], options);
  const d = json<Deployed>(run);
  deployed.push(d.jobId);
  return { run, d, runs };
}

/** Stop every job `deploy` started that is still queued; resolves to the processes left on nodes. */
export async function stopDeployed(): Promise<string[]> {
  for (const id of deployed.splice(0)) if (inQueue(id)) await dyn(["stop", id]);
  return waitFor("clean nodes", () => (leftoverProcesses().length === 0 ? [] : undefined), 30_000).catch(() =>
    leftoverProcesses(),
  );
}

/** The job's status events (status.jsonl, parsed as dyn itself does), empty until the job started. */
export function statusEvents(runDir: string): StatusEvent[] {
  const file = join(runDir, "status.jsonl");
  return existsSync(file) ? parseStatusLines(readFileSync(file, "utf8")) : [];
}
