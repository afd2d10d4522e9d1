/**
 * The example third-party backend (dyn-backend-mocker, Dynamo's GPU-less mocker engine) used the way
 * an outside user would: packed, installed with npm next to @dyn/cli in a fresh project, and deployed
 * from that project onto the testbed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynIn, installProject, packAll } from "../install.js";
import { chat, deploy, dyn, health, stopDeployed } from "./harness.js";

let project = "";
beforeAll(() => {
  project = installProject(packAll(), "/tmp");
}, 240_000);
afterAll(async () => {
  await stopDeployed();
});

describe("dyn-backend-mocker installed as a package", () => {
  it("deploys disaggregated mocker workers that serve a request across nodes, then stops cleanly", async () => {
    const from = { cwd: project, bin: dynIn(project) };
    const { run, d, runs } = await deploy(
      "mocker",
      ["--backend", "mocker", "--num-prefill-workers", "1", "--num-decode-workers", "2"],
      from,
    );
    expect(d.wait.outcome, run.stderr).toBe("ready");
    const url = d.wait.url as string;
    const h = await health(url);
    expect(h.instances.filter((i) => i.component === "prefill")).toHaveLength(1);
    expect(h.instances.filter((i) => i.component === "backend")).toHaveLength(2);
    const answer = await chat(url, d.plan.spec.model.path);
    expect(answer.status).toBe(200);
    const route = answer.body.dyn_route as { prefill: string; decode: string };
    expect(route.prefill).not.toBe(route.decode);
    const stop = await dyn(["stop", d.jobId, "--runs-dir", runs], from);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await stopDeployed()).toEqual([]);
  });
});
