/**
 * How a job ended, in SLURM's words (#13 item 6), on the testbed with accounting (slurmdbd, the
 * default) and, for the same jobs, as on a cluster without it (sacct stubbed to fail as it does
 * there: "Slurm accounting storage is disabled", so slurmctld's memory and the status file speak):
 * scancel → cancelled by root (sacct; squeue: cancelled, by nobody knows), a component that fails →
 * failed with SLURM's exit code and the component, a time limit → timeout, deploy --wait of a job
 * cancelled before it was ready → cancelled. A job SLURM ended is never a component failure; after
 * the end the URL and the counts are history. On a testbed brought up with TB_ACCOUNTING=0 the same
 * tests expect what SLURM says there (sacct refuses; the reasons come from squeue).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type Deployed,
  deploy,
  dyn,
  inQueue,
  json,
  newRunsDir,
  type Run,
  SMALL,
  standinEnv,
  stopDeployed,
  waitFor,
} from "./harness.js";

const accounting = (() => {
  try {
    return readFileSync("/var/lib/slurm-testbed/accounting-kind", "utf8").trim() === "slurmdbd";
  } catch {
    return false;
  }
})();
const SOURCE = accounting ? "sacct" : "squeue";

/** The stand-in env with a sacct that fails as on a cluster without accounting. */
function withoutAccounting(): NodeJS.ProcessEnv {
  const bin = mkdtempSync("/tmp/dyn-e2e-no-acct-");
  writeFileSync(join(bin, "sacct"), "#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n");
  chmodSync(join(bin, "sacct"), 0o755);
  const base = standinEnv();
  return { ...base, PATH: `${bin}:${base.PATH}` };
}

interface End {
  slurmState: string;
  by: string | null;
  exitCode: string | null;
  component: string | null;
  source: string;
}
interface Status {
  state: string;
  live: boolean;
  url: string | null;
  lastUrl: string | null;
  failed: { component: string } | null;
  end: End | null;
}

async function status(jobId: string, runs: string, env?: NodeJS.ProcessEnv): Promise<Status> {
  const r = await dyn(["status", jobId, "--runs-dir", runs, "--json"], env ? { env } : {});
  const s = json<{ deployments: Status[] }>(r).deployments[0];
  if (!s) throw new Error(`dyn status ${jobId}: no deployment\n${r.stdout}\n${r.stderr}`);
  return s;
}

/** Status once SLURM's final word is in (slurmdbd records a job's end asynchronously, ~0.1 s). */
const settled = (jobId: string, runs: string) =>
  waitFor(
    `job ${jobId}'s end from ${SOURCE}`,
    async () => {
      const s = await status(jobId, runs);
      return s.end?.source === SOURCE ? s : undefined;
    },
    15_000,
  );

/** sacct's own line for the job (JobID|State|ExitCode); with TB_ACCOUNTING=0 its refusal. */
function sacct(jobId: string): string {
  const r = spawnSync("sacct", ["-n", "-X", "-P", "-j", jobId, "-o", "JobID,State,ExitCode"], {
    encoding: "utf8",
  });
  return r.status === 0 ? r.stdout.trim() : r.stderr.trim();
}

const left = (jobId: string, ms = 60_000) =>
  waitFor(`job ${jobId} to leave the queue`, () => (inQueue(jobId) ? undefined : true), ms);

let timeLimited: Promise<{ run: Run; d: Deployed; runs: string }>;
beforeAll(() => {
  // 1 minute: it runs on two nodes while the tests below use the other two
  timeLimited = deploy("timeout", ["--backend", "vllm", ...SMALL, "--time", "1"]);
});

afterAll(async () => {
  await timeLimited.catch(() => undefined);
  expect(await stopDeployed()).toEqual([]);
});

it("sacct answers on this testbed (or says that accounting is off)", async () => {
  const r = spawnSync("sacct", ["-n", "-X", "-P", "-j", "1", "-o", "JobID"], { encoding: "utf8" });
  if (accounting) expect(r.status, r.stderr).toBe(0);
  else expect(r.stderr).toContain("Slurm accounting storage is disabled");
});

it("scancel: cancelled by root, never a failed component; URL and counts are history", async () => {
  const { run, d, runs } = await deploy("scancel", ["--backend", "vllm", ...SMALL]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  execFileSync("scancel", [d.jobId]);
  await left(d.jobId);
  const s = await settled(d.jobId, runs);
  expect(s).toMatchObject({
    state: "cancelled",
    live: false,
    url: null,
    lastUrl: d.wait.url,
    failed: null,
    end: { slurmState: "CANCELLED", by: accounting ? "root" : null, component: null, source: SOURCE },
  });
  if (accounting) expect(sacct(d.jobId)).toBe(`${d.jobId}|CANCELLED by 0|0:0`);
  // without accounting: slurmctld still remembers the job (MinJobAge), not who cancelled it
  expect(await status(d.jobId, runs, withoutAccounting())).toMatchObject({
    state: "cancelled",
    failed: null,
    end: { slurmState: "CANCELLED", by: null, source: "squeue" },
  });
  const table = await dyn(["status", d.jobId, "--runs-dir", runs]);
  const row = table.stdout.split("\n").find((l) => l.startsWith(`${d.jobId} `));
  expect(row, table.stdout).toMatch(
    new RegExp(
      `^${d.jobId} +cancelled${accounting ? " by root" : ""} +was prefill 1/1, decode 1/1 +was ${d.wait.url} `,
    ),
  );
  const list = json<{ deployments: Array<{ jobId: string; state: string; end: End | null }> }>(
    await dyn(["list", "--runs-dir", runs, "--json"]),
  ).deployments.find((x) => x.jobId === d.jobId);
  expect(list).toMatchObject({ state: "cancelled", end: { slurmState: "CANCELLED", source: SOURCE } });
});

it("a component that fails: failed, with SLURM's exit code and the component", async () => {
  const env = standinEnv({ DYN_STANDIN_EXIT_AFTER: "6", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const { run, d, runs } = await deploy("crash", ["--backend", "vllm", ...SMALL], { env });
  expect(["ready", "failed"], run.stderr).toContain(d.wait.outcome);
  await left(d.jobId);
  const s = await settled(d.jobId, runs);
  expect(s).toMatchObject({
    state: "failed",
    live: false,
    url: null,
    failed: { component: "decode-w0" },
    end: { slurmState: "FAILED", exitCode: "1:0", component: "decode-w0", by: null, source: SOURCE },
  });
  if (accounting) expect(sacct(d.jobId)).toBe(`${d.jobId}|FAILED|1:0`);
  expect(await status(d.jobId, runs, withoutAccounting())).toMatchObject({
    state: "failed",
    end: { slurmState: "FAILED", exitCode: "1:0", component: "decode-w0", source: "squeue" },
  });
});

it("deploy --wait of a job cancelled before it was ready: cancelled, with who did it", async () => {
  const runs = newRunsDir("wait-cancel");
  const env = standinEnv({ DYN_STANDIN_START_DELAY: "120", DYN_STANDIN_HOOKS_ONLY: "decode" });
  const waiting = dyn(["deploy", "--backend", "vllm", ...SMALL, "--runs-dir", runs, "--wait", "--json"], {
    env,
  });
  const byJob = join(runs, "by-job");
  const jobId = await waitFor("the job to be submitted", () =>
    existsSync(byJob) ? readdirSync(byJob)[0] : undefined,
  );
  let run: Run;
  try {
    // cancel it once it runs (its decode worker is still loading)
    await waitFor("the job to run", () =>
      execFileSync("squeue", ["-h", "-j", jobId, "-o", "%T"], { encoding: "utf8" }).trim() === "RUNNING"
        ? true
        : undefined,
    );
  } finally {
    execFileSync("scancel", [jobId]);
    run = await waiting;
  }
  expect(run.code, run.stderr).toBe(1);
  const d = json<{ state: string; wait: { outcome: string; failed: unknown; end: End | null } }>(run);
  expect(d.state).toBe("cancelled");
  expect(d.wait).toMatchObject({ outcome: "failed", failed: null });
  expect(d.wait.end?.slurmState).toBe("CANCELLED");
  expect(run.stderr).toContain(`error: job ${jobId} ended before it was ready: CANCELLED: cancelled`);
  await left(jobId);
});

it("a time limit: timeout (and the status file says so too)", async () => {
  const { run, d, runs } = await timeLimited;
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  await left(d.jobId, 150_000);
  const s = await settled(d.jobId, runs);
  expect(s).toMatchObject({
    state: "timeout",
    url: null,
    lastUrl: d.wait.url,
    failed: null,
    end: { slurmState: "TIMEOUT", component: null, source: SOURCE },
  });
  if (accounting) expect(sacct(d.jobId)).toMatch(new RegExp(`^${d.jobId}\\|TIMEOUT\\|`));
  expect(await status(d.jobId, runs, withoutAccounting())).toMatchObject({
    state: "timeout",
    end: { slurmState: "TIMEOUT", source: "squeue" },
  });
});
