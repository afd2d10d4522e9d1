/**
 * The network preflight (#16 item 4) on the testbed: node2 cannot reach the infra node (node1) on the
 * job's port window (an iptables REJECT in node2's namespace; SLURM's own traffic still flows), so the
 * job must fail in the preflight naming node2, the service and the address, before etcd or any
 * engine starts. Without the cut, the same deployment passes the preflight and serves.
 */
import { execFileSync } from "node:child_process";
import { afterAll, expect, it } from "vitest";
import { deploy, SMALL, statusEvents, stopDeployed } from "./harness.js";

// The default port windows (ports.base 10000, 227 slots of 100): below SLURM's ephemeral ports.
const RULE = ["OUTPUT", "-d", "10.77.0.11", "-p", "tcp", "--dport", "10000:32699", "-j", "REJECT"];
const iptables = (op: "-A" | "-D") =>
  execFileSync("ip", ["netns", "exec", "stb-node2", "iptables", op, ...RULE]);
const ARGS = ["--backend", "sglang", ...SMALL, "--sbatch-arg=--nodelist=node[1-2]"];

afterAll(async () => {
  expect(await stopDeployed()).toEqual([]);
});

it("node2 cut off from the infra node's ports: the preflight fails naming it, nothing starts", async () => {
  iptables("-A");
  try {
    const { d } = await deploy("preflight-cut", ARGS);
    expect(d.wait.outcome).toBe("failed");
    expect(d.wait.failed?.component).toBe("preflight");
    expect(d.wait.failed?.message).toMatch(
      /^node2: cannot reach (etcd|nats) on node 0 at 10\.77\.0\.11:\d+ \(TCP connect refused or timed out for 5 s\)$/,
    );
    expect(statusEvents(d.runDir).some((e) => e.event === "started")).toBe(false);
  } finally {
    iptables("-D");
  }
});

it("with the network whole, the same deployment passes the preflight and serves", async () => {
  const { run, d } = await deploy("preflight-ok", ARGS);
  expect(d.wait, run.stderr).toMatchObject({ outcome: "ready" });
  const events = statusEvents(d.runDir);
  const ports = events.find((e) => e.event === "ports");
  const ok = events.find((e) => e.event === "preflight-ok");
  expect(ok).toBeDefined();
  console.log(
    `preflight-ok: the preflight took ${((Number(ok?.t) - Number(ports?.t)) * 1000).toFixed(0)} ms`,
  );
});
