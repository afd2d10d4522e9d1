// One registry, any directory: deploy records job id → run directory under $XDG_STATE_HOME/dyn
// (default ~/.local/state/dyn); status, logs, stop and list find it from anywhere; stop refuses a
// job dyn did not deploy unless --force.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { entries, lookup, registryDir } from "../src/registry.js";
import { FakeSlurm, firstLine, queued, run, tmp } from "./helpers.js";

const SG = ["--backend", "sglang"];

/** A deploy from its own project directory; returns that directory and the run directory. */
async function deployFrom(env: Record<string, string>, slurm: FakeSlurm, jobId: string) {
  const project = tmp("dyn-project-");
  slurm.nextJobId = jobId;
  const r = await run(["deploy", ...SG], { cwd: project, env, slurm });
  expect(r.code, r.stderr).toBe(0);
  const runDir = /run directory: (\S+)/.exec(r.stdout)?.[1] as string;
  return { project, runDir, deploy: r };
}

describe("the per-user registry", () => {
  it("lives in $XDG_STATE_HOME/dyn, else ~/.local/state/dyn; a relative XDG_STATE_HOME is ignored", () => {
    expect(registryDir({ XDG_STATE_HOME: "/s", HOME: "/h" })).toBe("/s/dyn");
    expect(registryDir({ HOME: "/h" })).toBe("/h/.local/state/dyn");
    expect(registryDir({ XDG_STATE_HOME: "rel", HOME: "/h" })).toBe("/h/.local/state/dyn");
    expect(registryDir({})).toBeUndefined();
  });

  it("deploy writes one entry per job: id, run directory, name, backend, cluster, time", async () => {
    const state = tmp("dyn-state-");
    const slurm = new FakeSlurm();
    slurm.cluster = "alps";
    const { runDir } = await deployFrom({ XDG_STATE_HOME: state }, slurm, "501");
    expect(readdirSync(join(state, "dyn", "deployments"))).toEqual(["501.json"]);
    expect(lookup(join(state, "dyn"), "501")).toEqual({
      jobId: "501",
      cluster: "alps",
      runDir,
      name: runDir.split("/").pop(),
      backend: "sglang",
      submittedAt: "2025-06-15T15:06:40.000Z",
      remote: null,
    });
    // A dry run submits nothing, so it records nothing.
    await run(["deploy", ...SG, "--dry-run"], { cwd: tmp(), env: { XDG_STATE_HOME: state } });
    expect(entries(join(state, "dyn")).map((e) => e.jobId)).toEqual(["501"]);
  });

  it("the default is ~/.local/state/dyn", async () => {
    const home = tmp("dyn-home-");
    await deployFrom({ HOME: home }, new FakeSlurm(), "502");
    expect(readdirSync(join(home, ".local", "state", "dyn", "deployments"))).toEqual(["502.json"]);
  });

  it("status, logs, stop and list find a deployment from any working directory", async () => {
    const env = { XDG_STATE_HOME: tmp("dyn-state-") };
    const slurm = new FakeSlurm();
    const { runDir } = await deployFrom(env, slurm, "610");
    const { runDir: other } = await deployFrom(env, slurm, "611");
    slurm.jobs.set("610", queued("610"));
    writeFileSync(join(runDir, "slurm-610.out"), "hello from the batch log\n");
    const elsewhere = tmp("dyn-elsewhere-");

    const status = await run(["status", "610", "--json"], { cwd: elsewhere, env, slurm });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).deployments[0]).toMatchObject({
      jobId: "610",
      runDir,
      state: "starting",
    });

    const all = await run(["status", "--json"], { cwd: elsewhere, env, slurm });
    expect(
      JSON.parse(all.stdout)
        .deployments.map((d: { jobId: string }) => d.jobId)
        .sort(),
    ).toEqual(["610", "611"]);

    const logs = await run(["logs", "610"], { cwd: elsewhere, env, slurm });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("hello from the batch log\n");

    const list = await run(["list", "--json"], { cwd: elsewhere, env, slurm });
    const doc = JSON.parse(list.stdout);
    expect(doc.registry).toBe(join(env.XDG_STATE_HOME, "dyn"));
    expect(doc.deployments.map((d: { runDir: string }) => d.runDir).sort()).toEqual([runDir, other].sort());
    const table = await run(["list"], { cwd: elsewhere, env, slurm });
    expect(table.stdout).toContain(runDir);

    const stop = await run(["stop", "610", "--json"], { cwd: elsewhere, env, slurm });
    expect(stop.code).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ jobId: "610", cancelled: true });
  });

  it("a deployment listed both in the runs directory and the registry appears once", async () => {
    const env = { XDG_STATE_HOME: tmp("dyn-state-") };
    const slurm = new FakeSlurm();
    const { project } = await deployFrom(env, slurm, "620");
    const list = await run(["list", "--json"], { cwd: project, env, slurm });
    expect(JSON.parse(list.stdout).deployments.map((d: { jobId: string }) => d.jobId)).toEqual(["620"]);
  });

  it("an entry whose run directory is gone, or names another job, finds nothing", async () => {
    const env = { XDG_STATE_HOME: tmp("dyn-state-") };
    const slurm = new FakeSlurm();
    const { runDir } = await deployFrom(env, slurm, "630");
    const { runDir: second } = await deployFrom(env, slurm, "631");
    rmSync(runDir, { recursive: true });
    // A stale entry: 631's file points at a run directory whose job.json says another job.
    writeFileSync(join(second, "job.json"), JSON.stringify({ jobId: "9", cluster: null, submittedAt: "x" }));
    const elsewhere = tmp();
    const list = await run(["list", "--json"], { cwd: elsewhere, env, slurm });
    expect(JSON.parse(list.stdout).deployments).toEqual([]);
    const logs = await run(["logs", "630"], { cwd: elsewhere, env, slurm });
    expect(logs.code).toBe(2);
    expect(firstLine(logs.stderr)).toContain(`nor in the registry ${join(env.XDG_STATE_HOME, "dyn")}`);
  });

  it("stop refuses a job dyn did not deploy unless --force", async () => {
    const env = { XDG_STATE_HOME: tmp("dyn-state-") };
    const slurm = new FakeSlurm();
    slurm.jobs.set("777", queued("777"));
    const r = await run(["stop", "777"], { cwd: tmp(), env, slurm });
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toMatch(
      /^error: job 777: not deployed by dyn \(no run directory under .* nor in the registry .*\); refusing to cancel it \(DYN_USAGE\)$/,
    );
    expect(r.stderr).toContain("hint: dyn stop 777 --force cancels it anyway");
    expect(slurm.count("scancel")).toBe(0);
    const forced = await run(["stop", "777", "--force"], { cwd: tmp(), env, slurm });
    expect(forced.code).toBe(0);
    expect(slurm.count("scancel")).toBe(1);
  });

  it("a registry that cannot be written is a warning: the job was submitted", async () => {
    const state = tmp("dyn-state-");
    mkdirSync(join(state, "dyn"));
    writeFileSync(join(state, "dyn", "deployments"), "not a directory");
    chmodSync(join(state, "dyn", "deployments"), 0o444);
    const { deploy, project } = await deployFrom({ XDG_STATE_HOME: state }, new FakeSlurm(), "640");
    expect(deploy.stderr).toMatch(
      /^warning: cannot write the registry entry .*640\.json: .*; dyn status 640 works from this directory only/m,
    );
    // The runs directory still knows it.
    const s = await run(["status", "640", "--json"], { cwd: project, env: { XDG_STATE_HOME: state } });
    expect(JSON.parse(s.stdout).deployments[0].runDir).toMatch(/dynamo-/);
    expect(readFileSync(join(state, "dyn", "deployments"), "utf8")).toBe("not a directory");
  });
});
