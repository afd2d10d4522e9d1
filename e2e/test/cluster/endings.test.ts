/**
 * How a job ended, in SLURM's words (#13 item 6, without accounting): a time limit is TIMEOUT, a
 * scancel is CANCELLED, never a component failure (a step that exits on the cancel signal used to race
 * the trap); after the end the URL is history, not live.
 */
import { execFileSync } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { deploy, dyn, inQueue, json, SMALL, stopDeployed, waitFor } from "./harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

type Status = {
  deployments: Array<{ state: string; url: string | null; lastUrl: string | null; failed: unknown }>;
};

it("scancel: cancelled, not a failed component, and no live URL", async () => {
  const { run, d, runs } = await deploy("scancel", ["--backend", "vllm", ...SMALL]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  execFileSync("scancel", [d.jobId]);
  await waitFor("the job to leave the queue", () => (inQueue(d.jobId) ? undefined : true), 60_000);
  const s = json<Status>(await dyn(["status", d.jobId, "--runs-dir", runs, "--json"])).deployments[0];
  expect(s).toMatchObject({ state: "cancelled", url: null, lastUrl: d.wait.url, failed: null });
});

it("a time limit: timeout", async () => {
  const { run, d, runs } = await deploy("timeout", ["--backend", "vllm", ...SMALL, "--time", "1"]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  await waitFor("the time limit to end the job", () => (inQueue(d.jobId) ? undefined : true), 150_000);
  const s = json<Status>(await dyn(["status", d.jobId, "--runs-dir", runs, "--json"])).deployments[0];
  expect(s).toMatchObject({ state: "timeout", url: null, failed: null });
});
