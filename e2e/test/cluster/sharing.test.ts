/**
 * Two deployments sharing one node's GPUs: SLURM gives the second job GPUs 2,3 (the testbed's GPU
 * gres has device files and no device cgroup, like many clusters), and dyn maps each process's
 * planned GPU slots onto the GPUs SLURM allocated, so no physical GPU is driven by both jobs.
 * Read from /proc of the running workers.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { deploy, stopDeployed } from "./harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

/** CUDA_VISIBLE_DEVICES of every dynamo.vllm worker on `node`, by SLURM job id. */
function gpusByJob(node: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const pids = execFileSync("ip", ["netns", "pids", `stb-${node}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (const pid of pids) {
    try {
      // argv[0] may be a full path (a pyenv shim execs the real python3 by its path).
      if (!/^\S*python3(\.\d+)?\0-m\0dynamo\.vllm\0/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8")))
        continue;
      const env = new Map(
        readFileSync(`/proc/${pid}/environ`, "utf8")
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as const),
      );
      const job = env.get("SLURM_JOB_ID") as string;
      out.set(job, [...(out.get(job) ?? []), env.get("CUDA_VISIBLE_DEVICES") ?? "(unset)"]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

it("two jobs on one node: each process drives its own physical GPU", async () => {
  const args = [
    "--backend",
    "vllm",
    "--nodes",
    "1",
    "--gpus-per-node",
    "2",
    "--aggregated-workers",
    "2",
    "--gpus-per-aggregated",
    "1",
    "--sbatch-arg",
    "--nodelist=node3",
  ];
  const a = await deploy("gpus-a", args);
  const b = await deploy("gpus-b", args);
  expect(a.d.wait, a.run.stderr).toMatchObject({ outcome: "ready" });
  expect(b.d.wait, b.run.stderr).toMatchObject({ outcome: "ready" });
  const byJob = gpusByJob("node3");
  const ga = (byJob.get(a.d.jobId) ?? []).sort();
  const gb = (byJob.get(b.d.jobId) ?? []).sort();
  expect(ga).toHaveLength(2);
  expect(gb).toHaveLength(2);
  // SLURM allocated 0,1 to one job and 2,3 to the other; every worker has one GPU of its own job's.
  expect([...ga, ...gb].sort()).toEqual(["0", "1", "2", "3"]);
});
