// dyn doctor tells the truth: each probe bounded, the controller asked, the version parsed,
// partitions with nodes, GPUs and GRES style, pyxis, a runs directory checked without writing,
// etcd/nats-server for bare metal; exit 1 on a critical failure, one line per problem with a fix.
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CHECK_NAMES,
  parsePartitions,
  parsePing,
  parseSlurmVersion,
  runsDirCheck,
} from "../src/commands/doctor.js";
import type { ProbeResult } from "../src/slurm.js";
import { FakeSlurm, run, tmp, writeConfig } from "./helpers.js";
import { fails, HEALTHY, runWithPath, stubBin } from "./stubs.js";

const answer = (stdout: string, code = 0): ProbeResult => ({ found: true, code, stdout, stderr: "" });

/** A FakeSlurm whose probes answer like a healthy SLURM 23.11 cluster with pyxis. */
function healthy(): FakeSlurm {
  const slurm = new FakeSlurm();
  for (const c of ["sbatch", "srun", "squeue", "scancel"])
    slurm.probes.set(`${c} --version`, answer("slurm 23.11.4"));
  slurm.probes.set("scontrol ping", answer("Slurmctld(primary) at head1 is UP\n"));
  slurm.probes.set(
    "sinfo -h -o %P|%a|%D|%G|%l",
    answer(
      "gpu*|up|4|gpu:a100:8(S:0-1)|1-00:00:00\ngpu*|up|2|gpu:a100:4|1-00:00:00\ncpu|up|10|(null)|infinite\n",
    ),
  );
  slurm.probes.set("srun --help", answer("  --container-image=[USER@][REGISTRY#]IMAGE[:TAG]|PATH\n"));
  slurm.probes.set("etcd --version", answer("etcd Version: 3.4.23\n"));
  slurm.probes.set("nats-server --version", answer("nats-server: v2.9.10\n"));
  return slurm;
}

interface CheckJson {
  name: string;
  state: string;
  critical: boolean;
  detail: string;
  fix: string | null;
}
const checkOf = (stdout: string, name: string) =>
  (JSON.parse(stdout).checks as CheckJson[]).find((c) => c.name === name) as CheckJson;
const lineOf = (stdout: string, name: string) =>
  stdout.split("\n").find((l) => l.slice(6).startsWith(`${name} `)) ?? "";

/** Every file and directory below `dir`, with sizes and mtimes. */
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    out.push(`${p} ${st.size} ${st.mtimeMs}`);
    if (st.isDirectory()) out.push(...tree(p));
  }
  return out.sort();
}

describe("dyn doctor against a fake SLURM", () => {
  it("a healthy cluster: exit 0, every check in a stable order, partitions with nodes, GPUs and GRES style", async () => {
    const cwd = tmp();
    const r = await run(["doctor", "--json"], { cwd, slurm: healthy() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual([
      "schemaVersion",
      "format",
      "ok",
      "remote",
      "slurm",
      "runsDir",
      "checks",
      "partitions",
      "problems",
      "profile",
    ]);
    // Only --write-profile writes (and reports) a profile.
    expect(doc.profile).toBeNull();
    expect(doc.format).toBe("dyn.doctor/v1");
    expect(doc.ok).toBe(true);
    expect(doc.remote).toBeNull();
    expect(doc.checks[0]).toMatchObject({ name: "ssh", state: "skip" });
    expect(doc.slurm).toEqual({ version: "23.11.4", controller: "up" });
    expect(doc.checks.map((c: CheckJson) => c.name)).toEqual([...CHECK_NAMES]);
    for (const c of doc.checks)
      expect(Object.keys(c)).toEqual(["name", "state", "critical", "detail", "fix"]);
    expect(doc.partitions).toEqual([
      expect.objectContaining({
        name: "gpu",
        default: true,
        nodes: 6,
        gpusPerNode: 8,
        gres: "typed",
        gpuTypes: ["a100"],
      }),
      expect.objectContaining({ name: "cpu", nodes: 10, gpusPerNode: 0, gres: "none" }),
    ]);
    expect(checkOf(r.stdout, "gpus").detail).toContain("gpu 8 GPUs/node, typed GRES (a100)");
    expect(doc.problems).toEqual([]);
    const text = await run(["doctor"], { cwd, slurm: healthy() });
    expect(text.code).toBe(0);
    expect(lineOf(text.stdout, "controller")).toBe("ok    controller     slurmctld at head1 is up");
    expect(lineOf(text.stdout, "partitions")).toBe("ok    partitions     gpu* up 6 nodes, cpu up 10 nodes");
    expect(text.stdout.trimEnd().split("\n").pop()).toBe("ready for dyn deploy");
  });

  it("an unreachable controller fails (exit 1), with the fix on the same line", async () => {
    const slurm = healthy();
    slurm.probes.set("scontrol ping", answer("Slurmctld(primary) at head1 is DOWN\n", 1));
    slurm.probes.set("sinfo -h -o %P|%a|%D|%G|%l", {
      found: true,
      code: 1,
      stdout: "",
      stderr: "sinfo: error: Unable to contact slurm controller (connect failure)\n",
    });
    const r = await run(["doctor"], { slurm });
    expect(r.code).toBe(1);
    expect(lineOf(r.stdout, "controller")).toMatch(
      /^FAIL {2}controller {5}slurmctld at head1 is DOWN — fix: check that SLURM_CONF \/ slurm.conf names/,
    );
    expect(lineOf(r.stdout, "partitions")).toBe("skip  partitions     the controller does not answer");
    expect(r.stdout.trimEnd().split("\n").pop()).toBe("1 critical problem: dyn deploy will not work here");
    const j = JSON.parse((await run(["doctor", "--json"], { slurm })).stdout);
    expect(j.ok).toBe(false);
    expect(j.slurm.controller).toBe("unreachable");
    expect(j.problems).toEqual([expect.objectContaining({ name: "controller", critical: true })]);
  });

  it("a client that errors is a failure, not ok with the error as detail", async () => {
    const slurm = healthy();
    slurm.probes.set("sbatch --version", {
      found: true,
      code: 1,
      stdout: "",
      stderr:
        "sbatch: error: fetch_config: DNS SRV lookup failed\nsbatch: fatal: Could not establish a configuration source\n",
    });
    const r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(1);
    expect(checkOf(r.stdout, "sbatch")).toMatchObject({
      state: "fail",
      detail: "`sbatch --version` failed: fatal: Could not establish a configuration source",
      fix: expect.stringContaining("SLURM_CONF"),
    });
  });

  it("nothing on PATH: every SLURM check fails with a fix, nothing is ok", async () => {
    const r = await run(["doctor", "--json"], { slurm: new FakeSlurm() });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.checks.filter((c: CheckJson) => c.state === "ok").map((c: CheckJson) => c.name)).toEqual([
      "runs directory",
    ]);
    for (const p of doc.problems) expect(p.fix).toMatch(/\w/);
  });

  it("the SLURM version is parsed; below 20.11 is critical", async () => {
    expect(parseSlurmVersion("slurm 23.11.4")).toBe("23.11.4");
    expect(parseSlurmVersion("slurm-wlm 22.05.8")).toBe("22.05.8");
    expect(parseSlurmVersion("sbatch: error: nope")).toBeUndefined();
    const slurm = healthy();
    slurm.probes.set("sbatch --version", answer("slurm 20.02.7"));
    const r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(1);
    expect(checkOf(r.stdout, "slurm version")).toMatchObject({ state: "fail", critical: true });
    expect(JSON.parse(r.stdout).slurm.version).toBe("20.02.7");
    slurm.probes.set("sbatch --version", answer("my own sbatch 1"));
    for (const c of ["srun", "squeue"]) slurm.probes.set(`${c} --version`, answer("nothing here"));
    const odd = await run(["doctor", "--json"], { slurm });
    expect(checkOf(odd.stdout, "slurm version").state).toBe("warn");
  });

  it("scontrol ping output: every controller UP or DOWN", () => {
    expect(
      parsePing(
        "Slurmctld(primary) at a is DOWN\nSlurmctld(backup) at b is UP\n** RESTORE SLURMCTLD DAEMON **\n",
      ),
    ).toEqual({ up: ["b"], down: ["a"] });
  });

  it("partitions: untyped GRES, no GPUs, none up, the config's partition missing or too small", async () => {
    expect(parsePartitions("p|up|2|gpu:4|1:00:00\n")[0]).toMatchObject({ gres: "untyped", gpusPerNode: 4 });
    const slurm = healthy();
    const sinfo = (text: string) => slurm.probes.set("sinfo -h -o %P|%a|%D|%G|%l", answer(text));
    sinfo("cpu*|up|10|(null)|infinite\n");
    let r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(0);
    expect(checkOf(r.stdout, "gpus")).toMatchObject({
      state: "warn",
      fix: expect.stringContaining("--gpu-request none"),
    });
    sinfo("gpu*|down|4|gpu:8|infinite\n");
    r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(1);
    expect(checkOf(r.stdout, "partitions").detail).toBe("no partition is up (gpu down)");
    sinfo("");
    expect((await run(["doctor"], { slurm })).code).toBe(1);
    sinfo("gpu*|up|4|gpu:4|infinite\n");
    const cwd = tmp();
    writeConfig(cwd, "backend: vllm\nslurm:\n  partition: h100\n");
    r = await run(["doctor", "--json"], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(checkOf(r.stdout, "partitions").detail).toBe("partition h100 (from the config) is not one of gpu");
    writeConfig(cwd, "backend: vllm\nslurm:\n  partition: gpu\n  gpusPerNode: 8\n");
    r = await run(["doctor", "--json"], { cwd, slurm });
    expect(checkOf(r.stdout, "gpus")).toMatchObject({
      state: "warn",
      fix: "set slurm.gpusPerNode / --gpus-per-node to at most 4",
    });
  });

  it("pyxis: a warning for bare metal, critical when the config uses a container", async () => {
    const slurm = healthy();
    slurm.probes.set("srun --help", answer("Usage: srun [OPTIONS...] executable [args...]\n"));
    let r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(0);
    expect(checkOf(r.stdout, "pyxis").state).toBe("warn");
    const cwd = tmp();
    writeConfig(
      cwd,
      "backend: vllm\ncontainer:\n  kind: pyxis\n  image: nvcr.io#nvidia/ai-dynamo/vllm-runtime:1.5.1\n",
    );
    slurm.calls = [];
    r = await run(["doctor", "--json"], { cwd, slurm });
    expect(r.code).toBe(1);
    expect(checkOf(r.stdout, "pyxis")).toMatchObject({ state: "fail", critical: true });
    // The container's own etcd and nats-server: nothing to look for on this node.
    expect(checkOf(r.stdout, "etcd").state).toBe("skip");
    expect(slurm.calls.some((c) => c.cmd === "etcd")).toBe(false);
  });

  it("bare metal: etcd and nats-server on this node's PATH, unless external or off", async () => {
    const slurm = healthy();
    slurm.probes.delete("nats-server --version");
    let r = await run(["doctor", "--json"], { slurm });
    expect(r.code).toBe(0);
    expect(checkOf(r.stdout, "etcd")).toMatchObject({
      state: "ok",
      detail: expect.stringContaining("etcd Version: 3.4.23"),
    });
    expect(checkOf(r.stdout, "nats-server")).toMatchObject({
      state: "warn",
      detail: "nats-server is not on this node's PATH",
      fix: expect.stringContaining("--nats <url>"),
    });
    const cwd = tmp();
    writeConfig(cwd, "backend: vllm\ninfra:\n  nats:\n    mode: off\n");
    r = await run(["doctor", "--json"], { cwd, slurm });
    expect(checkOf(r.stdout, "nats-server").state).toBe("skip");
  });

  it("the runs directory is checked without creating it", async () => {
    const cwd = tmp();
    const runs = join(cwd, "a", "b", "runs");
    const r = await run(["doctor", "--json", "--runs-dir", runs], { cwd, slurm: healthy() });
    expect(r.code).toBe(0);
    expect(checkOf(r.stdout, "runs directory").detail).toContain(
      `${runs} does not exist yet; dyn deploy creates it in ${cwd}`,
    );
    expect(readdirSync(cwd)).toEqual([]);
    expect(runsDirCheck("/proc/x")).toMatchObject({
      state: "fail",
      detail: "/proc/x is on proc, which cannot hold files",
    });
    const file = join(cwd, "file");
    writeFileSync(file, "");
    expect(runsDirCheck(join(file, "runs"))).toMatchObject({
      state: "fail",
      detail: `${file} is not a directory`,
    });
    expect(runsDirCheck("/dev/shm/dyn-runs")).toMatchObject({
      state: "warn",
      detail: expect.stringContaining("tmpfs"),
    });
  });

  it("never writes anything, whatever it finds", async () => {
    const cwd = tmp();
    writeConfig(cwd, "backend: vllm\nruns" + "Dir: ./runs\n");
    mkdirSync(join(cwd, "sub"));
    const before = tree(cwd);
    for (const slurm of [healthy(), new FakeSlurm()]) {
      await run(["doctor"], { cwd, slurm });
      await run(["doctor", "--json"], { cwd: join(cwd, "sub"), slurm });
    }
    expect(tree(cwd)).toEqual(before);
  });

  it("--timeout must be a number of seconds", async () => {
    const r = await run(["doctor", "--timeout", "soon"], { slurm: healthy() });
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      'error: --timeout: expected seconds between 0 and 600, got "soon" (DYN_USAGE)',
    );
  });
});

describe("dyn doctor with stand-in SLURM commands on PATH (real processes)", () => {
  it("a healthy stand-in cluster is ready", async () => {
    const r = await runWithPath(["doctor", "--json"], stubBin(HEALTHY));
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).slurm).toEqual({ version: "22.05.8", controller: "up" });
  });

  it("a controller that hangs is reported after the probe's time limit, not minutes later", async () => {
    // The stand-ins hang far longer than the test's own limit: only the probe timeout can end them.
    const bin = stubBin({ ...HEALTHY, scontrol: "exec /bin/sleep 600", sinfo: "exec /bin/sleep 600" });
    const r = await runWithPath(["doctor", "--timeout", "1"], bin);
    expect(r.code).toBe(1);
    expect(lineOf(r.stdout, "controller")).toMatch(
      /^FAIL {2}controller {5}`scontrol ping` did not answer within 1 s — fix: /,
    );
    expect(lineOf(r.stdout, "partitions")).toBe("skip  partitions     the controller does not answer");
  });

  it("a missing slurm.conf: the client commands fail and say so", async () => {
    const names = ["sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo"];
    const bin = stubBin(
      Object.fromEntries(
        names.map((n) => [n, fails(`${n}: fatal: Could not establish a configuration source`)]),
      ),
    );
    const r = await runWithPath(["doctor"], bin);
    expect(r.code).toBe(1);
    expect(lineOf(r.stdout, "sbatch")).toMatch(
      /^FAIL {2}sbatch .*Could not establish a configuration source — fix: .*SLURM_CONF/,
    );
    expect(lineOf(r.stdout, "controller")).toMatch(/^FAIL {2}controller /);
    expect(lineOf(r.stdout, "pyxis")).toBe("skip  pyxis          srun --help did not answer");
    expect(r.stdout).not.toContain("ready for dyn deploy");
  });
});
