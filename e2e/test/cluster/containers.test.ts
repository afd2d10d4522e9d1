/**
 * Real containers: dyn's pyxis path through the testbed's real pyxis 0.24 + enroot 4.1.2, with
 * registry-free images of the stand-in Dynamo (testbed/image/build.sh). Per built-in backend the
 * lifecycle (deploy → ready → chat across nodes → status → logs → stop, no process or container left);
 * a multi-node worker in a container; mounts, workdir and --container-env read from inside the
 * running processes (/proc); a bad image path and an image without python3 fail naming node and step.
 * Skipped as a whole (and so counted as failed by the tally's missing report) only if the testbed
 * was brought up with TB_PYXIS=fake: then the test below says so instead of passing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  chat,
  deploy,
  dyn,
  health,
  leftoverProcesses,
  newRunsDir,
  repo,
  SMALL,
  statusEvents,
  stopDeployed,
  testbedNodes,
  waitFor,
} from "./harness.js";

const TB_ROOT = process.env.TB_ROOT ?? "/var/lib/slurm-testbed";
const pyxisKind = () =>
  existsSync(`${TB_ROOT}/pyxis-kind`) ? readFileSync(`${TB_ROOT}/pyxis-kind`, "utf8") : "";

function image(backend: string, release: string, extra: string[] = []): string {
  return execFileSync(
    "bash",
    [join(repo, "testbed/image/build.sh"), "--backend", backend, "--release", release, ...extra],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    },
  )
    .trim()
    .split("\n")
    .pop() as string;
}

/** The env of a dyn step: bare PATH, no stand-in on the host path (the image has it). */
function hostEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { PYTHONPATH: _p, DYN_STANDIN_VERSION: _v, ...rest } = process.env;
  return { ...rest, NO_COLOR: "1", ...extra };
}

/** pyxis' job-scoped containers left in enroot's per-node storage for a job. */
function containersOf(jobId: string): string[] {
  const left: string[] = [];
  const base = `${TB_ROOT}/enroot`;
  if (!existsSync(base)) return left;
  for (const dir of readdirSync(base)) {
    const data = join(base, dir, "data");
    if (!existsSync(data)) continue;
    for (const c of readdirSync(data)) if (c.startsWith(`pyxis_${jobId}_`)) left.push(`${dir}/${c}`);
  }
  return left;
}

/** Processes in a node's namespace that run `needle` (the process itself, not its srun), with what /proc says. */
function procs(
  node: string,
  needle: string,
): Array<{ pid: string; cwd: string; env: Record<string, string>; mounts: string }> {
  const out: Array<{ pid: string; cwd: string; env: Record<string, string>; mounts: string }> = [];
  const pids = execFileSync("ip", ["netns", "pids", `stb-${node}`], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (!cmd.startsWith(needle)) continue;
      const env = Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, "utf8")
          .split("\0")
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      out.push({
        pid,
        cwd: readlinkSync(`/proc/${pid}/cwd`),
        env,
        mounts: readFileSync(`/proc/${pid}/mountinfo`, "utf8"),
      });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const real = pyxisKind().startsWith("real");
let images: Record<string, string> = {};

beforeAll(() => {
  if (!real) return;
  images = {
    vllm: image("vllm", "1.5.1"),
    sglang: image("sglang", "1.5.1"),
    trtllm: image("trtllm", "1.5.1"),
  };
}, 120_000);

afterEach(async () => {
  // Every case leaves the nodes clean, also when it failed half-way (the next one needs them).
  expect(await stopDeployed()).toEqual([]);
});

it("the testbed runs the real pyxis", () => {
  expect(pyxisKind()).toMatch(/^real pyxis=0\.24\.0 enroot=4\.1\.2/);
});

describe.runIf(real).each(["vllm", "sglang", "trtllm"])("%s in a real container", (backend) => {
  it("deploys from a local image to ready, serves across nodes, and leaves nothing behind", async () => {
    const img = images[backend] as string;
    const { run, d, runs } = await deploy(
      `ctr-${backend}`,
      ["--backend", backend, "--container", img, ...SMALL],
      {
        env: hostEnv(),
      },
    );
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    // The release came from the image's file name, as enroot import names it.
    expect(run.stdout).toContain('"version": "1.5.1"');
    const url = d.wait.url as string;
    const hosts = new Set((await health(url)).instances.map((i) => i.host));
    expect(hosts.size).toBe(2);
    const answer = await chat(url, d.plan.spec.model.path);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const status = await dyn(["status", d.jobId, "--runs-dir", runs, "--json"], { env: hostEnv() });
    expect(status.code, status.stderr).toBe(0);
    const logs = await dyn(["logs", d.jobId, "--runs-dir", runs, "--role", "nats"], { env: hostEnv() });
    expect(logs.stdout).toMatch(/Server is ready|Listening for client connections/);
    expect((await dyn(["stop", d.jobId, "--runs-dir", runs], { env: hostEnv() })).code).toBe(0);
    await waitFor(
      "the job's containers removed",
      () => (containersOf(d.jobId).length === 0 ? true : undefined),
      30_000,
    );
    await waitFor("no process left", () => (leftoverProcesses().length === 0 ? true : undefined), 30_000);
  });
});

describe.runIf(real)("inside the containers", () => {
  it("mounts, workdir and --container-env as documented, secrets only in the consumers", async () => {
    const mountSrc = newRunsDir("mount-src");
    writeFileSync(join(mountSrc, "marker"), "x");
    const { run, d } = await deploy(
      "ctr-inside",
      [
        "--backend",
        "vllm",
        "--container",
        images.vllm as string,
        ...SMALL,
        // A read-only /tmp over the container's: dyn's scratch and run-dir mounts must still work.
        "--container-mount",
        "/tmp:/tmp:ro",
        "--container-mount",
        `${mountSrc}:/models`,
        "--container-workdir",
        "/workspace/examples",
        // The image sets DYN_TESTBED_IMAGE; --container-env makes the host's value win.
        "--container-env",
        "DYN_TESTBED_IMAGE",
        "--secret",
        "E2E_SECRET",
      ],
      { env: hostEnv({ E2E_SECRET: "s3cret-value", DYN_TESTBED_IMAGE: "from-host" }) },
    );
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    const [node0, node1] = testbedNodes();
    const workers = [
      ...procs(node0 as string, "python3 -m dynamo.vllm"),
      ...procs(node1 as string, "python3 -m dynamo.vllm"),
    ];
    expect(workers.length).toBeGreaterThanOrEqual(2);
    for (const w of workers) {
      expect(w.cwd).toBe("/workspace/examples");
      expect(w.env.E2E_SECRET).toBe("s3cret-value");
      expect(w.env.DYN_TESTBED_IMAGE).toBe("from-host");
      expect(w.mounts).toMatch(/ \/models /);
      expect(w.mounts).toContain(` ${d.runDir} `);
      expect(w.mounts).toMatch(/ \/root\/\.cache\/huggingface /);
    }
    for (const infra of [
      ...procs(node0 as string, "etcd --name"),
      ...procs(node0 as string, "nats-server "),
    ]) {
      expect(infra.env).not.toHaveProperty("E2E_SECRET");
      expect(infra.env.DYN_TESTBED_IMAGE).toMatch(/^nvidia\/ai-dynamo\//);
      // The scratch is mounted over the read-only /tmp, and etcd/NATS write there.
      expect(infra.mounts).toMatch(/ \/tmp\/dyn-\d+-\d+ /);
    }
    expect(procs(node0 as string, "etcd --name").length).toBe(1);
    expect((await dyn(["stop", d.jobId])).code).toBe(0);
  });

  it("etcd and NATS from the host (--container-infra host) next to containerised workers", async () => {
    const { run, d } = await deploy(
      "ctr-infra-host",
      ["--backend", "vllm", "--container", images.vllm as string, "--container-infra", "host", ...SMALL],
      { env: hostEnv() },
    );
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    const [node0] = testbedNodes();
    const etcd = procs(node0 as string, "etcd --name");
    expect(etcd).toHaveLength(1);
    // On the host: the host's etcd binary, not the image's /usr/local/bin/etcd/etcd.
    expect(readlinkSync(`/proc/${etcd[0]?.pid}/exe`)).not.toContain("/usr/local/bin/etcd/");
    expect(etcd[0]?.mounts).not.toMatch(/ \/root\/\.cache\/huggingface /);
    expect((await chat(d.wait.url as string, d.plan.spec.model.path)).status).toBe(200);
  });

  it("a multi-node worker in a container", async () => {
    const { run, d } = await deploy(
      "ctr-multinode",
      [
        "--backend",
        "sglang",
        "--container",
        images.sglang as string,
        "--gpus-per-node",
        "8",
        "--num-prefill-workers",
        "1",
        "--gpus-per-prefill",
        "16",
        "--num-decode-workers",
        "1",
        "--gpus-per-decode",
        "8",
      ],
      { env: hostEnv() },
    );
    expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
    const answer = await chat(d.wait.url as string, d.plan.spec.model.path);
    expect(answer.status).toBe(200);
    expect((await dyn(["stop", d.jobId])).code).toBe(0);
  });

  it("a bad image path fails before the services, naming the step and nodes", async () => {
    const missing = join(newRunsDir("noimage"), "nvidia+ai-dynamo+vllm-runtime+1.5.1.sqsh");
    const { d } = await deploy("ctr-bad-image", ["--backend", "vllm", "--container", missing, ...SMALL], {
      env: hostEnv(),
    });
    expect(d.wait.outcome).toBe("failed");
    expect(d.wait.failed?.component).toBe("container-preload");
    expect(d.wait.failed?.message).toMatch(/node\d/);
    expect(statusEvents(d.runDir).some((e) => e.event === "started")).toBe(false);
  });

  it("an image without python3 fails naming the step, the command and the node", async () => {
    const img = image("vllm", "1.5.1", ["--no-python"]);
    const { d } = await deploy("ctr-no-python", ["--backend", "vllm", "--container", img, ...SMALL], {
      env: hostEnv(),
    });
    expect(d.wait.outcome).toBe("failed");
    expect(d.wait.failed?.message).toMatch(/command was not found on node\d/);
    const log = readFileSync(join(d.runDir, "logs", `${d.wait.failed?.component}.log`), "utf8");
    expect(log).toMatch(/python3: command not found on node\d/);
  });
});
