/**
 * Heterogeneous jobs through the CLI (#17 item 2): per-role slurm/container keys in dyn.yaml, the
 * plan table and dyn.plan/v1 naming each role's component, each component's partition checked
 * against sinfo before sbatch, and refusals naming the key where it was written (exit 2).
 */
import { describe, expect, it } from "vitest";
import { type ProbeResult, parseAccounting, parseQueue } from "../src/slurm.js";
import { FakeSlurm, ls, run, tmp, writeConfig } from "./helpers.js";

const SINFO = "sinfo -h -a -o %P|%D";
const sinfo = (stdout: string): ProbeResult => ({ found: true, code: 0, stdout, stderr: "" });

const HET = `backend: sglang
slurm: { time: "10" }
roles:
  prefill: { workers: 1, gpusPerWorker: 1 }
  decode: { workers: 2, gpusPerWorker: 4, slurm: { partition: gpu2, gpusPerNode: 4, gpuType: h100 } }
`;

describe("dyn plan", () => {
  it("shows each role's component, partition and resources; --json has components and hetGroup", async () => {
    const dir = tmp();
    writeConfig(dir, HET);
    const text = await run(["plan"], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("3 nodes in 2 components (heterogeneous job)");
    expect(text.stdout).toContain(
      "component 1 (--het-group=1): nodes 1-2 · partition gpu2 · 4 h100 GPUs per node · no container · decode",
    );
    const r = await run(["plan", "--json"], { cwd: dir });
    const doc = JSON.parse(r.stdout);
    expect(
      doc.components.map((c: Record<string, unknown>) => [c.index, c.partition ?? null, c.nodes]),
    ).toEqual([
      [0, null, 1],
      [1, "gpu2", 2],
    ]);
    expect(doc.groups.map((g: Record<string, unknown>) => [g.role, g.hetGroup])).toEqual([
      ["prefill", 0],
      ["decode", 1],
    ]);
  });

  it("refuses a job-wide key under a role at its place in the file (exit 2)", async () => {
    const dir = tmp();
    writeConfig(dir, HET.replace("gpuType: h100", "gpuType: h100, requeue: true"));
    const r = await run(["plan"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: dyn\.yaml:5:\d+ roles\.decode\.slurm\.requeue: is job-wide in a heterogeneous job, not per role: set slurm\.requeue/,
    );
  });

  it("refuses a role's GPU type that --gpu-request none contradicts, naming both", async () => {
    const dir = tmp();
    writeConfig(dir, HET);
    const r = await run(["plan", "--gpu-request", "none"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /roles\.decode\.slurm\.gpuType: has no effect: slurm\.gpuRequest is none \(--gpu-request none\)/,
    );
  });
});

describe("dyn deploy", () => {
  it("checks each component against its own partition before sbatch; nothing written when refused", async () => {
    const dir = tmp();
    writeConfig(dir, HET);
    const small = new FakeSlurm();
    small.probes.set(SINFO, sinfo("batch*|4\ngpu2|1\n"));
    const r = await run(["deploy", "--runs-dir", `${dir}/runs`], { cwd: dir, slurm: small });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /component 1 \(decode\): the plan needs 2 nodes, and partition gpu2 has 1 \(sinfo\)/,
    );
    expect(small.calls.map((c) => c.cmd)).toEqual(["sinfo", "sinfo"]);
    expect(ls(dir)).toEqual(["dyn.yaml"]);

    const fits = new FakeSlurm();
    fits.probes.set(SINFO, sinfo("batch*|4\ngpu2|2\n"));
    const ok = await run(["deploy", "--runs-dir", `${dir}/runs`], { cwd: dir, slurm: fits });
    expect(ok.code, ok.stderr).toBe(0);
    expect(fits.calls.map((c) => c.cmd)).toEqual(["sinfo", "sinfo", "sbatch"]);
  });
});

describe("squeue and sacct lines of a heterogeneous job", () => {
  it("fold into the leader's entry: component 0's state, every component's nodes", () => {
    const q = parseQueue(
      "7+1|RUNNING|None|node3|dynamo|0:05\n7+0|RUNNING|None|node1|dynamo|0:05\n8|PENDING|Resources|(null)|x|0:00\n",
    );
    expect([...q.keys()]).toEqual(["7", "8"]);
    expect(q.get("7")).toMatchObject({ jobId: "7", state: "RUNNING", nodes: "node3,node1" });
    const a = parseAccounting("7+0|CANCELLED by 0|0:0\n7+1|CANCELLED by 0|0:0\n");
    expect([...a.entries()]).toEqual([["7", { jobId: "7", state: "CANCELLED", exitCode: "0:0", by: "0" }]]);
  });
});
