/**
 * Infra identity (#13 item 3): a stranger already listening on the port the job's etcd would use makes
 * the TCP check pass, but the job must not start workers against it. dyn checks etcd's member name and
 * NATS's server_name (this run's DYN_INFRA_ID) over HTTP first; a squatter fails the job naming etcd.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { deploy, SMALL, statusEvents, stopDeployed, waitFor } from "./harness.js";

let squatter: ChildProcess | undefined;
afterAll(async () => {
  squatter?.kill("SIGKILL");
  expect(await stopDeployed()).toEqual([]);
});

it("a stranger on the etcd port fails the job naming etcd, before any worker starts", async () => {
  // The next job id: submit and cancel a probe job (ids are handed out in order).
  const probe = Number(
    execFileSync("sbatch", ["--parsable", "--wrap", "true", "--hold"], { encoding: "utf8" }).trim(),
  );
  execFileSync("scancel", [String(probe)]);
  const port = 10000 + ((probe + 1) % 227) * 100; // the job's window; etcd is offset 0 on node 0
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
  const { d } = await deploy("squatted-etcd", ["--backend", "vllm", ...SMALL]);
  expect(Number(d.jobId)).toBe(probe + 1);
  expect(d.wait.outcome).toBe("failed");
  expect(d.wait.failed?.component).toBe("etcd");
  // Either dyn saw the stranger answer, or our etcd could not bind the port it holds.
  expect(d.wait.failed?.message).toMatch(/not this job's \(it says \(not etcd: HTTP 501\)|exited with code/);
  const started = statusEvents(d.runDir)
    .filter((e) => e.event === "started")
    .map((e) => e.step);
  expect(started.every((s) => s === "etcd" || s === "nats")).toBe(true);
});
