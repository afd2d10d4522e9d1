/**
 * Site profiles on the testbed (#17 item 5): `dyn doctor --write-profile site --site` writes what it
 * detects on the real cluster (partition, GPUs per node and request style from sinfo and
 * scontrol, the interface from a compute node through srun, the runs directory), and a deploy given
 * no --partition, --gpu-request, --network-interface nor --runs-dir — only that profile, as the
 * site file's default — reaches READY, its plan.json naming the profile.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import {
  dyn,
  inQueue,
  json,
  leftoverProcesses,
  newRunsDir,
  SMALL,
  standinEnv,
  statusEvents,
  waitFor,
} from "./harness.js";

const root = mkdtempSync(join("/tmp", "dyn-e2e-profiles-"));
const env = standinEnv({ DYN_SITE_CONFIG_DIR: join(root, "etc-dyn"), XDG_CONFIG_HOME: join(root, "config") });
const siteFile = join(root, "etc-dyn", "profiles.yaml");
const jobs: string[] = [];

afterAll(async () => {
  for (const id of jobs) if (inQueue(id)) await dyn(["stop", id], { env, cwd: root });
  expect(
    await waitFor("clean nodes", () => (leftoverProcesses().length === 0 ? true : undefined), 30_000),
  ).toBe(true);
});

it("doctor writes the site profile from the cluster; a deploy with only that profile is READY and names it", async () => {
  const runs = newRunsDir("profiles");
  const t0 = Date.now();
  const doctor = await dyn(
    ["doctor", "--write-profile", "site", "--site", "--runs-dir", runs, "--timeout", "10", "--json"],
    { env, cwd: root },
  );
  const doctorMs = Date.now() - t0;
  expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
  const report = json<{ profile: Record<string, unknown> }>(doctor);
  // testbed/up.sh: partition batch (Default=YES), Gres=gpu:8, select/cons_tres, nodes' veth eth0.
  expect(report.profile).toMatchObject({
    name: "site",
    scope: "site",
    file: siteFile,
    written: true,
    madeDefault: true,
    settings: {
      slurm: { partition: "batch", gpusPerNode: 8, gpuRequest: "gpus-per-node" },
      network: { interface: "eth0" },
      runsDir: runs,
    },
  });
  const text = readFileSync(siteFile, "utf8");
  expect(text).toMatch(/^default: site$/m);
  expect(text).toMatch(/^ {6}partition: batch # the default partition \(sinfo: batch\*\)$/m);
  expect(text).toMatch(/^ {6}interface: eth0 # on a compute node: /m);

  const t1 = Date.now();
  const run = await dyn(["deploy", "--backend", "sglang", ...SMALL, "--wait", "--timeout", "120", "--json"], {
    env,
    cwd: root,
  });
  const d = json<{
    jobId: string;
    runDir: string;
    wait: { outcome: string };
    plan: { profile: { name: string; from: string; sources: unknown[] } };
  }>(run);
  jobs.push(d.jobId);
  expect(d.wait.outcome, run.stderr).toBe("ready");
  const readyMs = Date.now() - t1;
  // The runs directory is the profile's, and the plan (deploy --json and plan.json) names the profile.
  expect(d.runDir.startsWith(`${runs}/`)).toBe(true);
  const planFile = JSON.parse(readFileSync(join(d.runDir, "plan.json"), "utf8"));
  for (const p of [d.plan.profile, planFile.profile])
    expect(p).toEqual({
      name: "site",
      from: `the default of ${siteFile}`,
      chain: ["site"],
      sources: [{ scope: "site", file: siteFile, profile: "site" }],
      unused: [],
    });
  const script = readFileSync(join(d.runDir, "job.sbatch"), "utf8");
  expect(script).toMatch(/^#SBATCH --partition=batch$/m);
  expect(script).toMatch(/^#SBATCH --gpus-per-node=8$/m);
  // Every node reported the address of the profile's interface (testbed: 10.77.0.(10+k) on eth0).
  const nodes = statusEvents(d.runDir).filter((e) => e.event === "node");
  expect(nodes.length).toBeGreaterThanOrEqual(2);
  for (const n of nodes) expect(String(n.ip)).toMatch(/^10\.77\.0\.\d+$/);
  console.log(
    `profiles: doctor --write-profile ${doctorMs} ms; deploy with the profile → READY in ${readyMs} ms`,
  );
  const stop = await dyn(["stop", d.jobId], { env, cwd: root });
  expect(stop.code, stop.stderr).toBe(0);
});
