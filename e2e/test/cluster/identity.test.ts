/**
 * A stranger on the etcd port (#13 items 1 and 3): a process already listening on the port the job's
 * etcd would use used to pass the TCP check. Now node setup sees the port in use and moves the whole
 * job to the next port window, where it serves; workers never meet the stranger. (Should a stranger
 * take the port after that check, the identity check — etcd's member name, NATS's server_name — still
 * fails the job as etcd before any worker starts: core's port-window.test.ts.)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { deploy, SMALL, statusEvents, stopDeployed, waitFor } from "./harness.js";

let squatter: ChildProcess | undefined;
afterAll(async () => {
  squatter?.kill("SIGKILL");
  expect(await stopDeployed()).toEqual([]);
});

it("a stranger on the etcd port: the job moves to the next window and serves, away from it", async () => {
  // The next job id: submit and cancel a probe job (ids are handed out in order).
  const probe = Number(
    execFileSync("sbatch", ["--parsable", "--wrap", "true", "--hold"], { encoding: "utf8" }).trim(),
  );
  execFileSync("scancel", [String(probe)]);
  const window = (probe + 1) % 227;
  const port = 10000 + window * 100; // the job's window; etcd is offset 0 on node 0
  squatter = spawn(
    "ip",
    ["netns", "exec", "stb-node1", "python3", "-m", "http.server", "--bind", "10.77.0.11", String(port)],
    { stdio: "ignore" },
  );
  await waitFor("the squatter to listen", () => {
    try {
      execFileSync("ip", ["netns", "exec", "stb-node1", "bash", "-c", `exec 3<>/dev/tcp/10.77.0.11/${port}`]);
      return true;
    } catch {
      return undefined;
    }
  });
  const { run, d } = await deploy("squatted-etcd", [
    "--backend",
    "vllm",
    ...SMALL,
    "--sbatch-arg=--nodelist=node[1-2]",
  ]);
  expect(Number(d.jobId)).toBe(probe + 1);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const events = statusEvents(d.runDir);
  expect(events.find((e) => e.event === "port-window-taken")).toMatchObject({
    window,
    nodes: `node1 (port ${port} in use)`,
  });
  expect(events.find((e) => e.event === "ports")).toMatchObject({ window: (window + 1) % 227 });
  expect(events.find((e) => e.event === "infra-up")?.etcd).toBe(`http://10.77.0.11:${port + 100}`);
});
