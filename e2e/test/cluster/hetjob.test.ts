/**
 * Heterogeneous jobs on the testbed (#17 item 2): prefill in the default partition, decode in the
 * second one (testbed/up.sh: TB_PARTITION2=gpu2 on the upper half of the nodes), as one SLURM job
 * of two components (`#SBATCH hetjob`). Each reaches READY and answers a chat across the
 * components; `dyn status --json` says which nodes each component's roles run on; SLURM's own view
 * (squeue's `<id>+<k>` rows) agrees. With the real pyxis, decode runs in a container of its own
 * (another image file, a mount only it has). A combination that cannot work exits 2 naming the key.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chat, deploy, dyn, health, json, newRunsDir, repo, stopDeployed } from "./harness.js";

const TB_ROOT = process.env.TB_ROOT ?? "/var/lib/slurm-testbed";
const real =
  existsSync(`${TB_ROOT}/pyxis-kind`) && readFileSync(`${TB_ROOT}/pyxis-kind`, "utf8").startsWith("real");

/** Nodes of a partition, from sinfo. */
function partitionNodes(partition: string): string[] {
  const out = execFileSync("sinfo", ["-h", "-N", "-p", partition, "-o", "%N"], { encoding: "utf8" });
  return [...new Set(out.split("\n").filter(Boolean))].sort();
}

/** A node's address, as /etc/hosts (the testbed's block) has it. */
function ipOf(node: string): string {
  return execFileSync("getent", ["hosts", node], { encoding: "utf8" }).split(/\s+/)[0] as string;
}

/** A dyn.yaml in a directory of its own; returns its path. */
function config(text: string): string {
  const dir = mkdtempSync(join("/tmp", "dyn-e2e-hetcfg-"));
  const file = join(dir, "dyn.yaml");
  writeFileSync(file, text);
  return file;
}

interface StatusComponent {
  index: number;
  partition: string | null;
  roles: string[];
  nodes: number[];
  hosts: string[] | null;
  image: string | null;
}

afterEach(async () => {
  expect(await stopDeployed()).toEqual([]);
});

it("the testbed has a second partition over some of the nodes, the default one over all", () => {
  const all = partitionNodes("batch");
  const second = partitionNodes("gpu2");
  expect(all.length).toBeGreaterThanOrEqual(2);
  expect(second.length).toBeGreaterThanOrEqual(1);
  expect(second.length).toBeLessThan(all.length);
  for (const n of second) expect(all).toContain(n);
});

it("prefill in one partition and decode in the other: READY, a chat across them, placement in status", async () => {
  const gpu2 = partitionNodes("gpu2");
  const file = config(
    [
      "backend: sglang",
      "slurm: { time: '10' }",
      "roles:",
      "  prefill: { workers: 1, gpusPerWorker: 1 }",
      "  decode: { workers: 1, gpusPerWorker: 2, slurm: { partition: gpu2, gpusPerNode: 4 } }",
      "",
    ].join("\n"),
  );
  const t0 = Date.now();
  const { run, d, runs } = await deploy("het-bare", ["--config", file]);
  const seconds = (Date.now() - t0) / 1000;
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const plan = (d.plan as unknown as { components: Array<Record<string, unknown>> }).components;
  expect(
    plan.map((c) => [c.index, c.partition ?? null, c.gpusPerNode, c.roles, c.firstNode, c.nodes]),
  ).toEqual([
    [0, null, 8, ["prefill"], 0, 1],
    [1, "gpu2", 4, ["decode"], 1, 1],
  ]);

  // SLURM's view while it runs: two components, the second in gpu2.
  const rows = execFileSync("squeue", ["-h", "-j", d.jobId, "-o", "%i %P %N"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .sort();
  expect(rows.map((r) => r.split(" ").slice(0, 2).join(" "))).toEqual([
    `${d.jobId}+0 batch`,
    `${d.jobId}+1 gpu2`,
  ]);
  const slurmHost1 = (rows[1] as string).split(" ")[2] as string;
  expect(gpu2).toContain(slurmHost1);

  // dyn status --json: each component's roles and the nodes they run on.
  const status = await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]);
  expect(status.code, status.stderr).toBe(0);
  const dep = json<{
    deployments: Array<{ components: StatusComponent[]; roles: Array<Record<string, unknown>> }>;
  }>(status).deployments[0];
  expect(dep?.components.map((c) => [c.index, c.partition, c.roles, c.nodes])).toEqual([
    [0, null, ["frontend", "prefill"], [0]],
    [1, "gpu2", ["decode"], [1]],
  ]);
  expect(dep?.components[1]?.hosts).toEqual([slurmHost1]);
  expect(dep?.roles.map((r) => [r.role, r.hetGroup, r.registered])).toEqual([
    ["prefill", 0, 1],
    ["decode", 1, 1],
  ]);

  // The decode instance registered from its gpu2 node, and a request crosses the components.
  const url = d.wait.url as string;
  const instances = (await health(url)).instances;
  const decodeHost = instances.find((i) => i.component === "backend")?.host ?? "";
  expect(JSON.stringify(decodeHost)).toContain(ipOf(slurmHost1));
  const answer = await chat(url, d.plan.spec.model.path);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const text = await dyn(["status", d.jobId, "--runs-dir", runs]);
  expect(text.stdout).toContain(`${d.jobId}: component 1 (partition gpu2): decode on ${slurmHost1}`);
  const plain = await dyn(["plan", "--config", file]);
  expect(plain.stdout).toContain("component 1 (--het-group=1): node 1 · partition gpu2 · 4 GPUs per node");
  console.log(`het-bare: READY in ${seconds.toFixed(1)} s (submit to ready, backfill start included)`);
});

it("a two-node worker in the second partition, component 0 only the frontend and etcd/NATS", async () => {
  const gpu2 = partitionNodes("gpu2");
  // One aggregated worker of 16 GPUs spans both gpu2 nodes (component 1); component 0 holds only the
  // frontend and etcd/NATS. The worker's second rank reaches its leader (the preflight checks it
  // first) with node indices global across the components.
  const file = config(
    [
      "backend: sglang",
      "roles:",
      "  aggregated: { workers: 1, gpusPerWorker: 16, slurm: { partition: gpu2 } }",
      "",
    ].join("\n"),
  );
  const { run, d, runs } = await deploy("het-multinode", ["--config", file]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const status = await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]);
  const comps = json<{ deployments: Array<{ components: StatusComponent[] }> }>(status).deployments[0]
    ?.components as StatusComponent[];
  expect(comps.map((c) => [c.index, c.partition, c.roles, c.nodes])).toEqual([
    [0, null, ["frontend"], [0]],
    [1, "gpu2", ["aggregated"], [1, 2]],
  ]);
  expect([...(comps[1]?.hosts ?? [])].sort()).toEqual(gpu2);
  const events = readFileSync(join(d.runDir, "status.jsonl"), "utf8");
  expect(events).toContain('"event":"preflight-ok"');
  // Both ranks ran, one per gpu2 node.
  expect(existsSync(join(d.runDir, "logs", "aggregated-w0-r1.log"))).toBe(true);
  const answer = await chat(d.wait.url as string, d.plan.spec.model.path);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
});

describe.runIf(real)("with the real pyxis", () => {
  it("decode runs in a container of its own (another image file, a mount only it has)", async () => {
    const build = (out: string) =>
      execFileSync(
        "bash",
        [join(repo, "testbed/image/build.sh"), "--backend", "vllm", "--release", "1.5.1", "--out", out],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
      )
        .trim()
        .split("\n")
        .pop() as string;
    const imageA = build("/var/lib/dyn-testbed/images");
    const imageB = build(mkdtempSync(join("/tmp", "dyn-e2e-het-image-")));
    const only = newRunsDir("het-mount");
    writeFileSync(join(only, "marker"), "decode only");
    const file = config(
      [
        "backend: vllm",
        `container: { kind: pyxis, image: ${imageA} }`,
        "roles:",
        "  prefill: { workers: 1, gpusPerWorker: 1 }",
        "  decode:",
        "    workers: 1",
        "    gpusPerWorker: 1",
        "    slurm: { partition: gpu2 }",
        `    container: { kind: pyxis, image: ${imageB}, mounts: ["${only}:/mnt/decode-only:ro"] }`,
        "",
      ].join("\n"),
    );
    const { PYTHONPATH: _p, ...env } = process.env;
    const { run, d, runs } = await deploy("het-pyxis", ["--config", file], {
      env: { ...env, NO_COLOR: "1" },
    });
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    const status = await dyn(["status", d.jobId, "--runs-dir", runs, "--json"]);
    const comps = json<{ deployments: Array<{ components: StatusComponent[] }> }>(status).deployments[0]
      ?.components as StatusComponent[];
    expect(comps.map((c) => c.image)).toEqual([imageA, imageB]);
    const [host0, host1] = [comps[0]?.hosts?.[0] as string, comps[1]?.hosts?.[0] as string];
    // Component 1's named container, on its node only (pyxis scopes it by that component's job id).
    const named = (node: string) =>
      readdirSync(join(TB_ROOT, "enroot"))
        .filter((dir) => dir.startsWith(`${node}-`))
        .flatMap((dir) =>
          existsSync(join(TB_ROOT, "enroot", dir, "data"))
            ? readdirSync(join(TB_ROOT, "enroot", dir, "data"))
            : [],
        );
    expect(named(host1).some((c) => c.endsWith(`_dyn-${d.jobId}-het1`))).toBe(true);
    expect(named(host0).some((c) => c.endsWith(`_dyn-${d.jobId}-het1`))).toBe(false);
    // The decode process sees the mount only its container has; the prefill process does not.
    const mountsOf = (node: string) =>
      execFileSync("ip", ["netns", "pids", `stb-${node}`], { encoding: "utf8" })
        .split("\n")
        .filter(Boolean)
        .flatMap((pid) => {
          try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
            return cmd.startsWith("python3 -m dynamo.vllm")
              ? [readFileSync(`/proc/${pid}/mountinfo`, "utf8")]
              : [];
          } catch {
            return [];
          }
        });
    expect(mountsOf(host1).some((m) => m.includes(" /mnt/decode-only "))).toBe(true);
    expect(mountsOf(host0).length).toBeGreaterThan(0);
    expect(mountsOf(host0).some((m) => m.includes("/mnt/decode-only"))).toBe(false);
    const answer = await chat(d.wait.url as string, d.plan.spec.model.path);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });
});

describe("refused before anything is submitted (exit 2, naming the key)", () => {
  it("a job-wide option under a role, colocate across components, a partition sinfo does not list", async () => {
    const cases: Array<[string, RegExp]> = [
      [
        "roles:\n  prefill: { workers: 1 }\n  decode: { workers: 1, slurm: { partition: gpu2, time: '5' } }\n",
        /dyn\.yaml:3:\d+ roles\.decode\.slurm\.time: is job-wide in a heterogeneous job, not per role: set slurm\.time/,
      ],
      [
        "roles:\n  colocate: true\n  prefill: { workers: 1, gpusPerWorker: 1 }\n  decode: { workers: 1, gpusPerWorker: 1, slurm: { partition: gpu2 } }\n",
        /roles\.colocate: prefill and decode cannot share a node, because roles\.decode\.slurm puts decode in component 1/,
      ],
      [
        "roles:\n  prefill: { workers: 1, gpusPerWorker: 1 }\n  decode: { workers: 1, gpusPerWorker: 1, slurm: { partition: nosuch } }\n",
        /dyn\.yaml:3:\d+ roles\.decode\.slurm\.partition: sinfo lists no partition "nosuch"/,
      ],
    ];
    for (const [yaml, message] of cases) {
      const runs = newRunsDir("het-refused");
      const r = await dyn(["deploy", "--backend", "sglang", "--config", config(yaml), "--runs-dir", runs]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      // Nothing half written: no run directory.
      expect(readdirSync(runs).filter((f) => !f.startsWith("."))).toEqual([]);
    }
  });
});
