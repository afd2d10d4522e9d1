import { appendFileSync, existsSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePartitions } from "../src/commands/doctor.js";
import type { QueueEntry } from "../src/slurm.js";
import { parseAccounting, parseQueue, parseSbatchParsable, slurmMessage } from "../src/slurm.js";
import { FakeSlurm, FIXTURE_PROJECT, firstLine, ls, queued, run, tmp, writeConfig } from "./helpers.js";

const SG = ["--backend", "sglang"];

function runDirOf(cwd: string, jobId: string): string {
  return realpathSync(join(cwd, "dyn-runs", "by-job", jobId));
}
function emit(cwd: string, jobId: string, ...events: object[]) {
  const dir = runDirOf(cwd, jobId);
  appendFileSync(
    join(dir, "status.jsonl"),
    events.map((e) => `${JSON.stringify({ t: 1, ...e })}\n`).join(""),
  );
}
/** A deployment that was submitted (deploy with the fake) and optionally has status events. */
async function deployed(cwd: string, slurm: FakeSlurm, jobId: string, extra: string[] = []) {
  slurm.nextJobId = jobId;
  const r = await run(["deploy", ...SG, ...extra], { cwd, slurm });
  expect(r.code).toBe(0);
  return runDirOf(cwd, jobId);
}

describe("dyn deploy", () => {
  it("writes the run directory, submits with sbatch in it, links by-job, prints what next", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.cluster = "alps";
    const r = await run(["deploy", ...SG, "--secret", "HF_TOKEN"], {
      cwd,
      slurm,
      env: { HF_TOKEN: "s3cr3t-value" },
    });
    expect(r.code).toBe(0);
    const dir = runDirOf(cwd, "4242");
    expect(dir.startsWith(join(cwd, "dyn-runs", "dynamo-"))).toBe(true);
    // sinfo first (is the partition large enough?), then sbatch.
    expect(slurm.calls.map((c) => c.cmd)).toEqual(["sinfo", "sbatch"]);
    expect(slurm.calls[1]).toEqual({
      cmd: "sbatch",
      args: { scriptPath: join(dir, "job.sbatch"), cwd: dir },
    });
    expect(ls(dir).sort()).toEqual(["job.json", "job.sbatch", "logs", "plan.json", "spec.json"]);
    expect(JSON.parse(readFileSync(join(dir, "job.json"), "utf8"))).toMatchObject({
      jobId: "4242",
      cluster: "alps",
    });
    expect(readlinkSync(join(cwd, "dyn-runs", "by-job", "4242"))).not.toMatch(/^\//); // relative link
    expect(r.stdout).toContain("submitted job 4242 on cluster alps");
    expect(r.stdout).toContain(`run directory: ${dir}`);
    expect(r.stdout).toContain("dyn status 4242");
    expect(r.stdout).toContain("dyn logs 4242");
    expect(r.stdout).toContain("dyn stop 4242");
    // Secret names only, never values.
    const spec = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8"));
    expect(spec.secrets).toEqual(["HF_TOKEN"]);
    for (const f of ["job.sbatch", "plan.json", "spec.json", "job.json"])
      expect(readFileSync(join(dir, f), "utf8")).not.toContain("s3cr3t-value");
    expect(r.stdout + r.stderr).not.toContain("s3cr3t-value");
    expect(readFileSync(join(dir, "job.sbatch"), "utf8")).toContain(`#SBATCH --chdir=${dir}`);
  });

  it("--dry-run writes the files, prints the plan and does not call sbatch", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    const r = await run(["deploy", ...SG, "--dry-run", "--secret", "UNSET_IS_FINE_FOR_DRY_RUN"], {
      cwd,
      slurm,
    });
    expect(r.code).toBe(0);
    expect(slurm.calls).toEqual([]);
    expect(r.stdout).toContain("NODE  PROCESS");
    expect(r.stdout).toMatch(/dry run: nothing submitted\. Files in \/.*dyn-runs\/dynamo-/);
    const [name] = ls(join(cwd, "dyn-runs"));
    expect(ls(join(cwd, "dyn-runs", name as string)).sort()).toEqual([
      "job.sbatch",
      "logs",
      "plan.json",
      "spec.json",
    ]);
  });

  it("--dry-run --json is exactly one JSON document", async () => {
    const r = await run(["deploy", ...SG, "--dry-run", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ format: "dyn.deploy/v1", dryRun: true, jobId: null });
    expect(doc.plan.format).toBe("dyn.plan/v1");
    expect(doc.runDir).toMatch(/^\//);
  });

  it("--runs-dir and DYN_RUNS_DIR choose where run directories go (resolved absolute)", async () => {
    const cwd = tmp();
    await run(["deploy", ...SG, "--dry-run", "--runs-dir", "rel/runs"], { cwd });
    expect(ls(join(cwd, "rel", "runs"))).toHaveLength(1);
    await run(["deploy", ...SG, "--dry-run"], { cwd, env: { DYN_RUNS_DIR: join(cwd, "envruns") } });
    expect(ls(join(cwd, "envruns"))).toHaveLength(1);
  });

  it("sbatch refusing surfaces SLURM's message, exits 1 and leaves no run directory", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    const { DynError } = await import("@dyn/core");
    slurm.submitError = new DynError(
      "DYN_SLURM_FAILED",
      `sbatch: ${slurmMessage("sbatch", { code: 1, stderr: "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n" })}`,
    );
    const r = await run(["deploy", ...SG], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(firstLine(r.stderr)).toBe(
      "error: sbatch: Batch job submission failed: Invalid account or account/partition combination specified (DYN_SLURM_FAILED)",
    );
    expect(ls(join(cwd, "dyn-runs"))).toEqual([]);
  });

  it("--wait follows the job until ready and prints the URL", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.onQueue = (n) => {
      if (n === 2) slurm.jobs.set("7", queued("7", "RUNNING"));
      if (n === 2)
        emit(
          cwd,
          "7",
          { event: "node", index: 0, name: "n1", ip: "10.0.0.1" },
          { event: "progress", registered: "prefill=0/1 backend=1/1" },
        );
      if (n === 3)
        emit(cwd, "7", {
          event: "ready",
          url: "http://10.0.0.1:10004",
          registered: "prefill=1/1 backend=1/1",
        });
    };
    slurm.nextJobId = "7";
    const r = await run(["deploy", ...SG, "--wait"], { cwd, slurm });
    expect(r.stderr).toContain("job 7 queued (Priority)");
    expect(r.stderr).toContain("ready: prefill 1/1, decode 1/1");
    expect(r.stdout.trim().split("\n").pop()).toBe("http://10.0.0.1:10004");
    expect(r.code).toBe(0);
  });

  it("--wait reports the failed component and the tail of its log, exit 1", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    slurm.onQueue = (n) => {
      if (n !== 1) return;
      const dir = runDirOf(cwd, "8");
      writeFileSync(join(dir, "logs", "decode-w0.log"), "loading\nCUDA out of memory\n");
      emit(cwd, "8", { event: "failed", component: "decode-w0", message: "step exited with status 1" });
    };
    slurm.nextJobId = "8";
    const r = await run(["deploy", ...SG, "--wait", "--json"], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: job 8 failed: decode-w0: step exited with status 1 (DYN_JOB_FAILED)");
    expect(r.stderr).toContain("CUDA out of memory");
    const doc = JSON.parse(r.stdout);
    expect(doc.wait).toMatchObject({ outcome: "failed", failed: { component: "decode-w0" } });
  });

  it("--wait --timeout gives up with exit 1; Ctrl-C leaves the job running with exit 130", async () => {
    const slurm = new FakeSlurm();
    const t = await run(["deploy", ...SG, "--wait", "--timeout", "5"], { slurm });
    expect(t.code).toBe(1);
    expect(t.stderr).toContain("not ready after 5 s");
    const slurm2 = new FakeSlurm();
    const c = await run(["deploy", ...SG, "--wait"], { slurm: slurm2, abortAfterSleeps: 2 });
    expect(c.code).toBe(130);
    expect(c.stderr).toContain("interrupted: job 4242 keeps running");
    expect(slurm2.count("scancel")).toBe(0);
  });

  it("--wait on a TTY redraws one line", async () => {
    const slurm = new FakeSlurm();
    const r = await run(["deploy", ...SG, "--wait", "--timeout", "3"], { slurm, isTTY: true });
    expect(r.stderr).toContain("\r\u001b[2Kjob 4242 queued");
  });
});

describe("dyn status / list / stop / logs", () => {
  it("status: one squeue call for N jobs, sacct once for those gone, roles and URL", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "101");
    await deployed(cwd, slurm, "102");
    await deployed(cwd, slurm, "103");
    slurm.jobs.set("101", queued("101", "RUNNING"));
    slurm.jobs.delete("103");
    slurm.acct.set("103", { jobId: "103", state: "TIMEOUT", exitCode: "0:0" });
    emit(cwd, "101", { event: "ready", url: "http://10.1.1.1:10004", registered: "prefill=1/1 backend=1/1" });
    slurm.calls = [];
    const r = await run(["status", "--json"], { cwd, slurm });
    expect(r.code).toBe(0);
    expect(slurm.count("squeue")).toBe(1);
    expect(slurm.calls[0]?.args).toEqual(expect.arrayContaining(["101", "102", "103"]));
    expect(slurm.count("sacct")).toBe(1);
    expect(slurm.calls[1]?.args).toEqual(["103"]);
    const doc = JSON.parse(r.stdout);
    expect(doc.format).toBe("dyn.status/v1");
    const by = Object.fromEntries(doc.deployments.map((d: { jobId: string }) => [d.jobId, d]));
    expect(by["101"]).toMatchObject({ state: "ready", url: "http://10.1.1.1:10004" });
    expect(by["101"].roles).toEqual([
      { role: "prefill", component: "prefill", registered: 1, expected: 1, hetGroup: null },
      { role: "decode", component: "backend", registered: 1, expected: 1, hetGroup: null },
    ]);
    expect(by["102"]).toMatchObject({
      state: "queued",
      queue: { slurmState: "PENDING", reason: "Priority" },
    });
    expect(by["103"]).toMatchObject({ state: "timeout", accounting: { slurmState: "TIMEOUT" } });
  });

  it("status <job> and <run-dir> find the deployment; table output", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    const dir = await deployed(cwd, slurm, "55");
    const a = await run(["status", "55"], { cwd, slurm });
    expect(a.stdout).toMatch(/^JOB\s+STATE/);
    expect(a.stdout).toContain("queued (Priority)");
    const b = await run(["status", dir, "--json"], { cwd, slurm });
    expect(JSON.parse(b.stdout).deployments[0].jobId).toBe("55");
  });

  it("status of an unknown job exits 1", async () => {
    const r = await run(["status", "999"], { slurm: new FakeSlurm() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("unknown");
  });

  it("status --watch polls with backoff until no job is queued", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "60");
    slurm.calls = [];
    slurm.onQueue = (n) => {
      if (n === 6) slurm.jobs.delete("60");
    };
    const r = await run(["status", "--watch", "60"], { cwd, slurm });
    expect(r.code).toBe(0);
    expect(slurm.count("squeue")).toBe(7);
    expect(r.sleeps).toEqual([2000, 3000, 4500, 6750, 10000, 10000]);
    expect(r.stdout.match(/queued/g)).toHaveLength(1); // printed again only when it changes
  });

  it("status --watch looks again soon after something changed", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "61");
    slurm.calls = [];
    slurm.onQueue = (n) => {
      // (a change made during poll n shows from poll n+1) PENDING for four polls, RUNNING for two, then gone
      if (n === 4)
        slurm.jobs.set("61", { ...(slurm.jobs.get("61") as QueueEntry), state: "RUNNING", reason: "None" });
      if (n === 6) slurm.jobs.delete("61");
    };
    const r = await run(["status", "--watch", "61"], { cwd, slurm });
    expect(r.code).toBe(0);
    // the RUNNING change resets the backoff to 2 s
    expect(r.sleeps).toEqual([2000, 3000, 4500, 6750, 2000, 3000]);
  });

  it("list: run directories joined with one squeue call (and one sacct for the jobs that ended)", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "1");
    await deployed(cwd, slurm, "2");
    await run(["deploy", ...SG, "--dry-run"], { cwd });
    slurm.jobs.delete("2");
    slurm.calls = [];
    const r = await run(["list", "--json"], { cwd, slurm });
    expect(slurm.calls.map((c) => c.cmd)).toEqual(["squeue", "sacct"]);
    expect(slurm.calls[1]?.args).toEqual(["2"]);
    const doc = JSON.parse(r.stdout);
    const states = doc.deployments.map((d: { slurmState: string | null; state: string }) => [
      d.state,
      d.slurmState,
    ]);
    expect(states.sort()).toEqual([
      ["not_submitted", null],
      ["queued", "PENDING"],
      ["unknown", null],
    ]);
  });

  it("stop: scancel, then waits until the job has left the queue", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    await deployed(cwd, slurm, "77");
    slurm.calls = [];
    slurm.cancelDelay = 3;
    const r = await run(["stop", "77"], { cwd, slurm });
    expect(r.code).toBe(0);
    expect(slurm.calls.map((c) => c.cmd)).toEqual([
      "squeue",
      "scancel",
      "squeue",
      "squeue",
      "squeue",
      "squeue",
      "sacct",
    ]);
    expect(r.stdout).toMatch(/job 77 stopped \(CANCELLED\)/);
  });

  it("stop: a job that never leaves the queue is a timeout (exit 1)", async () => {
    const slurm = new FakeSlurm();
    slurm.jobs.set("88", queued("88"));
    slurm.cancelDelay = 10_000;
    const r = await run(["stop", "88", "--timeout", "10", "--force"], { slurm });
    expect(r.code).toBe(1);
    expect(firstLine(r.stderr.split("\n").slice(1).join("\n"))).toBe(
      "error: job 88 is still in the queue (COMPLETING) 10 s after scancel (DYN_TIMEOUT)",
    );
  });

  it("logs: batch log by default, a role's process logs with --role, -f until the job leaves", async () => {
    const cwd = tmp();
    const slurm = new FakeSlurm();
    const dir = await deployed(cwd, slurm, "90");
    writeFileSync(join(dir, "slurm-90.out"), "batch line 1\nbatch line 2\n");
    writeFileSync(join(dir, "logs", "prefill-w0.log"), "prefill says hi\n");
    const a = await run(["logs", "90"], { cwd, slurm });
    expect(a.stdout).toBe("batch line 1\nbatch line 2\n");
    const b = await run(["logs", "90", "--role", "prefill", "--worker", "0"], { cwd, slurm });
    expect(b.stdout).toBe("prefill says hi\n");
    const bad = await run(["logs", "90", "--role", "decode", "--worker", "5"], { cwd, slurm });
    expect(bad.code).toBe(2);
    slurm.onQueue = (n) => {
      if (n === 1) appendFileSync(join(dir, "slurm-90.out"), "later\n");
      if (n === 2) slurm.jobs.delete("90");
    };
    const f = await run(["logs", "90", "-f"], { cwd, slurm });
    expect(f.code).toBe(0);
    expect(f.stdout).toBe("batch line 1\nbatch line 2\nlater\n");
    expect(f.stderr).toContain("job 90 has left the queue");
  });
});

describe("dyn plan / render / backends / init / doctor / completion", () => {
  it("plan prints the table; --json prints planToJson only", async () => {
    const t = await run(["plan", ...SG]);
    expect(t.stdout).toContain("NODE  PROCESS");
    const j = await run(["plan", ...SG, "--json"]);
    expect(JSON.parse(j.stdout).format).toBe("dyn.plan/v1");
  });

  it("render: script on stdout with the run dir, or --out atomically", async () => {
    const cwd = tmp();
    const r = await run(["render", ...SG, "--run-dir", "/shared/runs/x"], { cwd });
    expect(r.stdout.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(r.stdout).toContain("DYN_RUN_DIR=/shared/runs/x");
    const o = await run(["render", ...SG, "--out", "job.sh"], { cwd });
    expect(o.code).toBe(0);
    expect(readFileSync(join(cwd, "job.sh"), "utf8")).toContain(
      `DYN_RUN_DIR=${join(cwd, "dyn-runs")}/dynamo-`,
    );
    const rel = await run(["render", ...SG, "--run-dir", "relative/dir"], { cwd });
    expect(rel.code).toBe(2);
  });

  it("backends lists built-ins, project dependencies and config entries; --json", async () => {
    writeConfig(FIXTURE_PROJECT, "backends:\n  - ./backends/local.mjs\n");
    try {
      const r = await run(["backends", "--json"], { cwd: FIXTURE_PROJECT });
      const doc = JSON.parse(r.stdout);
      expect(doc.format).toBe("dyn.backends/v1");
      const names = doc.backends.map((b: { name: string; kind: string }) => `${b.kind}:${b.name}`);
      expect(names).toEqual(
        expect.arrayContaining(["built-in:sglang", "dependency:fake", "dependency:scoped", "config:local"]),
      );
      expect(doc.backends.find((b: { source: string }) => b.source === "dyn-backend-broken").error).toMatch(
        /defineBackend/,
      );
    } finally {
      (await import("node:fs")).rmSync(join(FIXTURE_PROJECT, "dyn.yaml"));
    }
  });

  it("plan names the Dynamo release and where it came from", async () => {
    const header = async (argv: string[]) => {
      const r = await run(["plan", "--backend", "vllm", ...argv]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return r.stdout
        .split("\n")
        .slice(0, 2)
        .join("\n")
        .replace(/ · \d+ nodes.*/, "");
    };
    expect(await header(["--container", "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.4.2"])).toMatch(
      /^backend vllm · Dynamo 1\.4\.2 \(from image tag 1\.4\.2\)$/m,
    );
    expect(await header(["--dynamo-version", "1.4"])).toMatch(
      /^backend vllm · Dynamo 1\.4\.2 \(from --dynamo-version 1\.4\)$/m,
    );
    expect(await header([])).toMatch(/^backend vllm · Dynamo 1\.5\.1 \(default: the newest release\)$/m);
    expect(await header(["--container", "/images/nvidia+ai-dynamo+vllm-runtime+1.1.0.sqsh"])).toMatch(
      /Dynamo 1\.1\.0 \(from image tag 1\.1\.0\)/,
    );
    expect(
      await header(["--container", "nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.3.0-deepseek-v4-dev.1"]),
    ).toBe(
      [
        "backend vllm · Dynamo 1.3.0 (from image tag 1.3.0-deepseek-v4-dev.1)",
        "  note: image tag 1.3.0-deepseek-v4-dev.1 is a build of 1.3.0 (deepseek-v4-dev.1); rendering 1.3.0",
      ].join("\n"),
    );
    // The release reaches the script's header too.
    const script = await run(["render", "--backend", "vllm", "--dynamo-version", "0.9.0"]);
    expect(script.stdout).toContain("# Dynamo 0.9.0 on SLURM, backend vllm");
  });

  it("etcd off plans on one node with file discovery", async () => {
    const r = await run([
      "plan",
      "--json",
      ...SG,
      "--etcd",
      "off",
      "--env",
      "DYN_DISCOVERY_BACKEND=file",
      "--aggregated-workers",
      "1",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.nodes).toBe(1);
    expect(doc.processes.map((p: { id: string }) => p.id)).toEqual(["nats", "frontend-0", "aggregated-w0"]);
  });

  it("backends show: releases, components, defaults, options and the JSON Schema", async () => {
    const t = await run(["backends", "show", "sglang"]);
    expect(t.stdout).toContain("SGLangPrefillWorker");
    expect(t.stdout).toContain("components (Dynamo 1.5.1):");
    expect(t.stdout).toContain("transferBackend");
    expect(t.stdout).not.toContain("dynamoVersion");
    const j = await run(["backends", "show", "sglang", "--json", "--legacy"]);
    const doc = JSON.parse(j.stdout);
    expect(doc.release).toBe("0.3.2");
    expect(doc.schema.properties.dynamoVersion).toBeUndefined();
    expect(doc.schema.properties.exampleDir.default).toBe("/workspace/examples/sglang");
    expect(doc.components.prefill.dynamo).toBe("python3 components/worker.py --disaggregation-mode prefill");
    expect(doc.releaseTable.map((r: { since: string }) => r.since)).toEqual(["0.3.2", "0.4.1"]);
    const v = JSON.parse(
      (await run(["backends", "show", "trtllm", "--json", "--dynamo-version", "1.3"])).stdout,
    );
    expect(v.release).toBe("1.3.1");
    expect(v.components.aggregated.dynamo).toBe("dynamo.trtllm --disaggregation-mode agg");
  });

  it("backends show lists all 18 releases of each built-in backend", async () => {
    const all =
      "0.3.2 0.4.1 0.6.1 0.9.0 1.0.0 1.0.1 1.0.2 1.1.0 1.1.1 1.2.0 1.2.1 1.3.0 1.3.1 1.4.0 1.4.1 1.4.2 1.5.0 1.5.1";
    for (const b of ["vllm", "sglang", "trtllm"]) {
      const t = await run(["backends", "show", b]);
      expect(t.code).toBe(0);
      expect(t.stdout).toContain(
        `releases (--dynamo-version; default 1.5.1, or the container image's tag):\n  ${all}\n`,
      );
      expect(t.stdout).toContain("release history (each row applies from its release on):");
      const doc = JSON.parse((await run(["backends", "show", b, "--json"])).stdout);
      expect(doc.releases).toEqual(all.split(" "));
      expect(doc.release).toBe("1.5.1");
    }
    // An unknown release is refused here too.
    const bad = await run(["backends", "show", "vllm", "--dynamo-version", "2.0"]);
    expect(bad.code).toBe(2);
    expect(firstLine(bad.stderr)).toContain(
      "Dynamo 2.0 is not a release dyn knows; known releases of vllm: 0.3.2,",
    );
  });

  it("init writes a dyn.yaml that plans, links the schema, refuses to overwrite", async () => {
    const cwd = tmp();
    const r = await run(["init", "--backend", "sglang"], { cwd });
    expect(r.code).toBe(0);
    const text = readFileSync(join(cwd, "dyn.yaml"), "utf8");
    expect(text).toMatch(/^# yaml-language-server: \$schema=.*schema\/dyn\.schema\.json\n/);
    const schemaRel = /\$schema=(\S+)/.exec(text)?.[1] as string;
    expect(existsSync(join(cwd, schemaRel))).toBe(true);
    const p = await run(["plan"], { cwd });
    expect(p.code).toBe(0);
    const again = await run(["init"], { cwd });
    expect(again.code).toBe(2);
    expect(firstLine(again.stderr)).toBe("error: dyn.yaml: already exists (DYN_USAGE)");
    expect((await run(["init", "--force", "--backend", "sglang"], { cwd })).code).toBe(0);
  });

  it("doctor: critical failures exit 1; a healthy cluster exits 0; --json", async () => {
    const bare = await run(["doctor", "--json"], { slurm: new FakeSlurm() });
    expect(bare.code).toBe(1);
    expect(JSON.parse(bare.stdout).checks.find((c: { name: string }) => c.name === "sbatch").state).toBe(
      "fail",
    );
    const slurm = new FakeSlurm();
    const ok = (stdout: string) => ({ found: true, code: 0, stdout, stderr: "" });
    for (const c of ["sbatch", "srun", "squeue", "scancel"])
      slurm.probes.set(`${c} --version`, ok("slurm 23.11.4"));
    slurm.probes.set("sinfo --version", ok("slurm 23.11.4"));
    slurm.probes.set(
      "sinfo -h -o %P|%a|%D|%G|%l",
      ok("gpu*|up|4|gpu:a100:8(S:0-1)|1-00:00:00\ncpu|up|10|(null)|infinite\n"),
    );
    slurm.probes.set("srun --help", ok("  --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH\n"));
    const r = await run(["doctor"], { slurm });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("gpu 8 GPUs/node, typed GRES (a100)");
    expect(r.stdout).toContain("ready for dyn deploy");
  });

  it("completion bash|zsh", async () => {
    const b = await run(["completion", "bash"]);
    expect(b.stdout).toContain("complete -o filenames -F _dyn dyn");
    expect(b.stdout).toContain("--num-prefill-workers");
    expect((await run(["completion", "zsh"])).stdout).toContain("#compdef dyn");
    expect((await run(["completion", "fish"])).code).toBe(2);
  });

  it("--help and unknown commands", async () => {
    const h = await run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("Usage: dyn");
    expect((await run(["frobnicate"])).code).toBe(2);
  });
});

describe("third-party backends from the user's project", () => {
  it("dyn-backend-<x> by convention, @scope/x → @scope/dyn-backend-x, and a file path", async () => {
    for (const [name, expected] of [
      ["fake", "fake"],
      ["@acme/scoped", "scoped"],
      ["./backends/local.mjs", "local"],
      ["dyn-backend-fake", "fake"],
    ]) {
      const r = await run(["plan", "--json", "--backend", name as string, "-o", "flavor=spicy"], {
        cwd: FIXTURE_PROJECT,
      });
      expect(r.stderr).toBe("");
      const doc = JSON.parse(r.stdout);
      expect(doc.backend).toBe(expected);
      expect(doc.processes.find((p: { role: string }) => p.role === "prefill").command).toContain("spicy");
    }
  });

  it("the config's backends: list is tried last, by package name or backend name", async () => {
    const cwd = tmp();
    writeConfig(cwd, `backend: local\nbackends:\n  - ${join(FIXTURE_PROJECT, "backends", "local.mjs")}\n`);
    const r = await run(["plan", "--json"], { cwd });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).backend).toBe("local");
  });
});

describe("SLURM output parsing", () => {
  it("sbatch --parsable with and without a cluster", () => {
    expect(parseSbatchParsable("123\n")).toEqual({ jobId: "123" });
    expect(parseSbatchParsable("123;cluster\n")).toEqual({ jobId: "123", cluster: "cluster" });
    expect(() => parseSbatchParsable("Submitted batch job 1")).toThrow(/no job id/);
  });
  it("squeue / sacct / sinfo", () => {
    expect(parseQueue("12|RUNNING|None|n[1-2]|dynamo|1:00\n").get("12")).toMatchObject({
      state: "RUNNING",
      nodes: "n[1-2]",
    });
    const acct = parseAccounting("12|CANCELLED by 1000|0:15\n12.batch|CANCELLED|0:15\n");
    expect(acct.get("12")).toEqual({ jobId: "12", state: "CANCELLED", exitCode: "0:15", by: "1000" });
    expect(acct.size).toBe(1);
    const p = parsePartitions("gpu*|up|2|gpu:h100:4(S:0)|1:00:00\ngpu*|up|2|gpu:8|1:00:00\n");
    expect(p).toEqual([
      {
        name: "gpu",
        default: true,
        available: "up",
        nodes: 4,
        gpusPerNode: 8,
        gpuTypes: ["h100"],
        gres: "typed",
        timeLimit: "1:00:00",
      },
    ]);
  });
  it("SLURM's stderr becomes one line", () => {
    expect(
      slurmMessage("scancel", {
        code: 1,
        stderr: "scancel: error: Kill job error on job id 5: Invalid job id specified\n",
      }),
    ).toBe("Kill job error on job id 5: Invalid job id specified");
  });
});
