/**
 * scancel of a 32-node deployment (#13 item 6 and 9): 64 one-GPU workers, 32 prefill and 32 decode,
 * ready, then `scancel <job>` as a user would. Every step gets SLURM's TERM at the same moment as the
 * batch script; a worker that exits 0 on it must not be taken for a failed component. The status
 * says cancelled, no `failed` event is written, and no process is left on any of the 32 nodes.
 */
import { execFileSync } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import {
  deploy,
  dyn,
  inQueue,
  json,
  leftoverProcesses,
  statusEvents,
  stopDeployed,
  testbedNodes,
  waitFor,
} from "../cluster/harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

it("scancel of 64 workers on 32 nodes: cancelled, never a component failure, nothing left", async () => {
  expect(testbedNodes()).toHaveLength(32);
  const t0 = Date.now();
  const { run, d, runs } = await deploy("scale-cancel", [
    "--backend",
    "vllm",
    "--nodes",
    "32",
    "--gpus-per-node",
    "2",
    "--gpus-per-prefill",
    "1",
    "--gpus-per-decode",
    "1",
    "--timeout",
    "360",
  ]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const events = statusEvents(d.runDir);
  const started = Number(events.find((e) => e.event === "job-started")?.t);
  const ready = Number(events.find((e) => e.event === "ready")?.t);
  console.log(
    `scale-cancel: 32 nodes, 64 workers: ready ${(ready - started).toFixed(1)} s after the job started (${((Date.now() - t0) / 1000).toFixed(1)} s after dyn deploy)`,
  );

  const t1 = Date.now();
  execFileSync("scancel", [d.jobId]);
  await waitFor("the job to leave the queue", () => (inQueue(d.jobId) ? undefined : true), 120_000);
  console.log(`scale-cancel: gone from squeue ${((Date.now() - t1) / 1000).toFixed(1)} s after scancel`);

  const after = statusEvents(d.runDir);
  expect(after.filter((e) => e.event === "failed")).toEqual([]);
  expect(after.find((e) => e.event === "ended")).toMatchObject({ reason: "CANCELLED" });
  const status = json<{ deployments: Array<{ state: string; url: string | null; failed: unknown }> }>(
    await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]),
  );
  expect(status.deployments[0]).toMatchObject({ state: "cancelled", url: null, failed: null });
  expect(
    await waitFor("clean nodes", () => (leftoverProcesses().length === 0 ? true : undefined), 60_000),
  ).toBe(true);
});
