/**
 * The example third-party backend (dyn-backend-mocker, Dynamo's GPU-less mocker engine) used the way
 * an outside user would: packed, installed with npm next to @dyn/cli in a fresh project, and deployed
 * from that project onto the testbed.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynIn, installProject, packAll } from "../install.js";
import { chat, health, inQueue, leftoverProcesses, newRunsDir, standinEnv, waitFor } from "./harness.js";

let project = "";
let jobId = "";
beforeAll(() => {
  project = installProject(packAll(), "/tmp");
}, 240_000);
afterAll(() => {
  if (jobId && inQueue(jobId)) spawn("scancel", [jobId]);
});

function dynFromProject(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(dynIn(project), args, {
      cwd: project,
      env: standinEnv(),
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
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("dyn-backend-mocker installed as a package", () => {
  it("deploys disaggregated mocker workers that serve a request across nodes, then stops cleanly", async () => {
    const runs = newRunsDir("mocker");
    const run = await dynFromProject([
      "deploy",
      "--backend",
      "mocker",
      "--num-prefill-workers",
      "1",
      "--num-decode-workers",
      "2",
      "--runs-dir",
      runs,
      "--wait",
      "--timeout",
      "90",
      "--json",
    ]);
    const out = JSON.parse(run.stdout);
    jobId = out.jobId;
    expect(out.wait.outcome, run.stderr).toBe("ready");
    const url = out.wait.url as string;
    const h = await health(url);
    expect(h.instances.filter((i) => i.component === "prefill")).toHaveLength(1);
    expect(h.instances.filter((i) => i.component === "backend")).toHaveLength(2);
    const answer = await chat(url, out.plan.spec.model.path);
    expect(answer.status).toBe(200);
    const route = answer.body.dyn_route as { prefill: string; decode: string };
    expect(route.prefill).not.toBe(route.decode);
    const stop = await dynFromProject(["stop", jobId, "--runs-dir", runs]);
    expect(stop.code, stop.stderr).toBe(0);
    const left = await waitFor(
      "clean nodes",
      () => (leftoverProcesses().length === 0 ? true : undefined),
      30_000,
    ).catch(() => leftoverProcesses());
    expect(left).toBe(true);
  });
});
