/**
 * Supervision after READY (#13 item 4): one node's network is cut under a running deployment. The
 * decode worker's etcd lease runs out, /health stops listing it, and the job must end within the
 * lost-grace + 5 s of that, naming the worker and its node, instead of reporting ready.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { deploy, health, SMALL, statusEvents, stopDeployed, testbedNodes, waitFor } from "./harness.js";

const link = (node: string, state: "up" | "down") =>
  execFileSync("ip", ["-n", `stb-${node}`, "link", "set", "eth0", state]);

afterAll(async () => {
  link("node2", "up");
  expect(await stopDeployed()).toEqual([]);
});

const GRACE = 3;

/** A ready SMALL vLLM deployment with a short lost-grace. */
async function deployReady(label: string, extra: string[] = []) {
  const { run, d } = await deploy(label, [
    "--backend",
    "vllm",
    ...SMALL,
    "--lost-grace",
    String(GRACE),
    ...extra,
  ]);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  return { d, url: d.wait.url as string };
}

/**
 * Waits for /health to stop listing the decode worker, then for the job's `failed` event; checks it
 * came within the grace + 5 s and names decode-w0 with its address and node. Returns nothing: asserts.
 */
async function expectLostDecode(label: string, url: string, runDir: string, ip: string, node: string) {
  const gone = await waitFor(
    "/health to stop listing the decode worker",
    async () =>
      (await health(url)).instances.some((i) => i.component === "backend") ? undefined : Date.now(),
    30_000,
  );
  const failed = await waitFor(
    "the job to fail",
    () => statusEvents(runDir).find((e) => e.event === "failed"),
    (GRACE + 15) * 1000,
  );
  const detected = Number(failed.t) * 1000 - gone;
  console.log(`${label}: failed ${(detected / 1000).toFixed(1)} s after /health stopped listing the worker`);
  expect(detected).toBeLessThanOrEqual((GRACE + 5) * 1000);
  expect(failed.component).toBe("decode-w0");
  expect(String(failed.message)).toMatch(
    new RegExp(
      `vanished after READY: backend 0/1: \\d+@${ip.replaceAll(".", "\\.")} \\[${node}: decode-w0\\]`,
    ),
  );
}

it("a node cut off after READY fails the job, naming the lost worker and its node", async () => {
  // One srun step per process: the batch host learns nothing from a node it cannot reach, as on a
  // real cluster, where the cut also takes the shared filesystem. (With the default per-node launch
  // the testbed's nodes still share the batch host's disk, so the stand-in's exit after its lease
  // ran out would arrive as logs/.exit/decode-w0 and name the worker before /health does.)
  const { d, url } = await deployReady("lost-node", ["--launch", "per-process"]);
  const decodeHost = (await health(url)).instances.find((i) => i.component === "backend")?.host;
  expect(decodeHost).toBe("10.77.0.12"); // node2: the decode worker runs apart from the frontend
  link("node2", "down");
  try {
    await expectLostDecode("lost-node", url, d.runDir, "10.77.0.12", "node2");
  } finally {
    link("node2", "up");
  }
});

it("a worker that leaves discovery without exiting fails the job as fast, naming it", async () => {
  const { d, url } = await deployReady("deregistered");
  // The decode worker revokes its lease on SIGUSR1 and keeps running (stand-in hook).
  const worker = findWorker("decode");
  process.kill(worker.pid, "SIGUSR1");
  await expectLostDecode("deregistered", url, d.runDir, worker.ip, worker.node);
  // It was not an exit: the job stopped a worker that was still running.
  expect(readFileSync(`${d.runDir}/logs/decode-w0.log`, "utf8")).toContain(
    "SIGUSR1: deregistering, still running",
  );
});

/** The stand-in worker of `role`: its pid, node and IP (searched in the nodes' network namespaces). */
function findWorker(role: string): { pid: number; node: string; ip: string } {
  for (const node of testbedNodes()) {
    const pids = execFileSync("ip", ["netns", "pids", `stb-${node}`], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    for (const pid of pids) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        // python3 itself, not the srun client on the batch host, whose argv has the same words.
        if (
          /^\S*python3(\.\d+)?$/.test(argv[0] ?? "") &&
          argv[2]?.startsWith("dynamo.") &&
          argv.includes(role)
        )
          return { pid: Number(pid), node, ip: `10.77.0.${10 + Number(node.replace("node", ""))}` };
      } catch {
        // exited meanwhile
      }
    }
  }
  throw new Error(`no ${role} worker on any node`);
}
