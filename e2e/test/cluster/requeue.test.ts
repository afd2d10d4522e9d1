/**
 * Requeue is a decision, not an accident (#13 item 5): by default the script says --no-requeue, so
 * SLURM refuses to requeue it; with --requeue a requeued deployment starts a new attempt, appends to
 * its logs instead of overwriting them, and `dyn status` shows the attempt and how the last one ended.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { deploy, dyn, json, SMALL, statusEvents, stopDeployed, waitFor } from "./harness.js";

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

it("default: SLURM will not requeue a deployment", async () => {
  const { run, d } = await deploy("no-requeue", ["--backend", "vllm", ...SMALL]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const r = spawnSync("scontrol", ["requeue", d.jobId], { encoding: "utf8" });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/disabled|not allowed|Requested operation/i);
  expect((await dyn(["stop", d.jobId])).code).toBe(0);
});

it("--requeue: a requeued deployment is attempt 2, its logs keep attempt 1", async () => {
  const { run, d, runs } = await deploy("requeue", ["--backend", "vllm", ...SMALL, "--requeue"]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  execFileSync("scontrol", ["requeue", d.jobId]);
  await waitFor(
    "attempt 2 ready",
    () => {
      const ev = statusEvents(d.runDir);
      const second = ev.findIndex((e) => e.event === "job-started" && Number(e.attempt) === 2);
      return second >= 0 && ev.slice(second).some((e) => e.event === "ready") ? true : undefined;
    },
    180_000,
  );
  const status = json<{
    deployments: Array<{ state: string; attempt: number; previous: { state: string } | null }>;
  }>(await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]));
  expect(status.deployments[0]).toMatchObject({ state: "ready", attempt: 2, previous: { state: "stopped" } });
  const log = readFileSync(join(d.runDir, "logs", "decode-w0.log"), "utf8");
  expect(log).toContain("==== dyn: attempt 2 ====");
  // Attempt 1's lines are still there, before the marker.
  expect(log.indexOf("==== dyn: attempt 2 ====")).toBeGreaterThan(0);
  expect((await dyn(["stop", d.jobId])).code).toBe(0);
});
