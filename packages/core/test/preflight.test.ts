/**
 * The network preflight (issue #16 item 4): dyn_preflight run by real bash on two "nodes" of this
 * machine (127.0.0.1), with a fake InfiniBand sysfs; and the rendered script failing the job, naming
 * the node and what it could not do, before anything starts.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderScript } from "../src/index.js";
import { RUNTIME_LIBRARY } from "../src/render/runtime.js";
import { planForTest, type TestSpec } from "../src/testing.js";
import { perNode } from "./fixtures/backends.js";
import { ScriptRun } from "./helpers/harness.js";

/** Run one runtime helper in bash as node `name` (SLURM_NODEID k); resolves to its stdout. */
function node(k: number, fn: string, args: string[]): Promise<string> {
  const program = `DYN_STATUS=/dev/null\nDYN_UNSET=()\n${RUNTIME_LIBRARY}\n${fn} "$@"\n`;
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", program, fn, ...args], {
      env: { PATH: process.env.PATH, SLURM_NODEID: String(k), SLURMD_NODENAME: `node${k}` },
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", () => ok()));
  const { port } = s.address() as { port: number };
  await new Promise((done) => s.close(done));
  return port;
}

describe("dyn_preflight on one node", () => {
  it("the listener node and a peer meet on the port; both say ok", async () => {
    const port = await freePort();
    const check = `0:127.0.0.1:${port}:etcd:0-1`;
    const [a, b] = await Promise.all([
      node(0, "dyn_preflight", ["/nonexistent", "5", "", "", check]),
      node(1, "dyn_preflight", ["/nonexistent", "5", "", "", check]),
    ]);
    expect(a).toBe("node0 \n");
    expect(b).toBe("node1 \n");
  });

  it("a peer that cannot connect names the service, the node and the address", async () => {
    const port = await freePort(); // nobody listens: node 0 is not part of this run
    const out = await node(1, "dyn_preflight", ["/nonexistent", "1", "", "", `0:127.0.0.1:${port}:nats:0-1`]);
    expect(out).toBe(
      `node1 fail cannot reach nats on node 0 at 127.0.0.1:${port} (TCP connect refused or timed out for 1 s)\n`,
    );
  });

  it("a node outside a check's range does not take part", async () => {
    const out = await node(3, "dyn_preflight", [
      "/nonexistent",
      "1",
      "",
      "",
      "1:127.0.0.1:1:decode-w0 (dist):1-2",
    ]);
    expect(out).toBe("node3 \n");
  });
});

describe("InfiniBand devices named by UCX_NET_DEVICES / NCCL_IB_HCA", () => {
  const sys = mkdtempSync(join(tmpdir(), "dyn-sysfs-"));
  for (const [dev, state] of [
    ["mlx5_0", "4: ACTIVE"],
    ["mlx5_1", "1: DOWN"],
  ] as const) {
    mkdirSync(join(sys, "class/infiniband", dev, "ports/1"), { recursive: true });
    writeFileSync(join(sys, "class/infiniband", dev, "ports/1/state"), `${state}\n`);
  }
  const cases: Array<[string, string, string]> = [
    ["", "mlx5_0", ""],
    ["", "=mlx5_0:1", ""],
    ["", "^mlx5_1", ""],
    ["mlx5_0:1,eth0", "", ""],
    ["all", "", ""],
    ["", "mlx5_1", "NCCL_IB_HCA names mlx5_1, which has no ACTIVE port"],
    ["", "mlx5_0,mlx5_1:1", "NCCL_IB_HCA names mlx5_1:1, whose state is 1: DOWN (not ACTIVE)"],
    [
      "mlx5_3:1",
      "",
      "UCX_NET_DEVICES names mlx5_3, which this node does not have (InfiniBand devices: mlx5_0 mlx5_1)",
    ],
    ["mlx5_0:2", "", "UCX_NET_DEVICES names mlx5_0:2, but mlx5_0 has no port 2"],
  ];
  it.each(cases)("UCX_NET_DEVICES=%j NCCL_IB_HCA=%j → %j", async (ucx, hca, why) => {
    expect(await node(0, "dyn_preflight", [sys, "1", ucx, hca])).toBe(`node0 ${why ? `fail ${why}` : ""}\n`);
  });

  it("a node without InfiniBand sysfs is not checked", async () => {
    expect(await node(0, "dyn_preflight", ["/nonexistent", "1", "mlx5_9:1", "mlx5_9"])).toBe("node0 \n");
  });
});

describe("the preflight in the rendered script", () => {
  const runs: ScriptRun[] = [];
  afterEach(() => {
    for (const r of runs.splice(0)) r.dispose();
  });
  const start = (spec: TestSpec, env: Record<string, string> = {}) => {
    const plan = planForTest(perNode, { model: { path: "m" }, ...spec });
    const run = new ScriptRun();
    runs.push(run);
    run.start(renderScript(plan, { runDir: run.runDir }), { nodes: plan.nodes, env });
    return { run, plan };
  };

  it("checks etcd and NATS from every node, and UCX/NCCL from the spec", async () => {
    const { run, plan } = start({ env: { NCCL_IB_HCA: "mlx5_0" } });
    await run.untilEvent("preflight-ok");
    const argv = run.argv("preflight") ?? [];
    const args = argv.slice(argv.lastIndexOf("preflight") + 1);
    expect(args.slice(1, 4)).toEqual(["5", "", "mlx5_0"]);
    const last = plan.nodes - 1;
    expect(args.slice(4)).toEqual([
      expect.stringMatching(new RegExp(`^0:10\\.9\\.0\\.1:\\d+:etcd:0-${last}$`)),
      expect.stringMatching(new RegExp(`^0:10\\.9\\.0\\.1:\\d+:nats:0-${last}$`)),
    ]);
  });

  it("every rank of a multi-node worker checks its leader's ports", async () => {
    const { run, plan } = start({
      slurm: { gpusPerNode: 8 },
      roles: { prefill: { workers: 1, gpusPerWorker: 16 }, decode: { workers: 1, gpusPerWorker: 8 } },
    });
    await run.untilEvent("preflight-ok");
    const leader = plan.steps.find((s) => s.role === "prefill" && s.rank === 0);
    const nodes = plan.steps.filter((s) => s.role === "prefill").flatMap((s) => s.nodes);
    expect(nodes).toHaveLength(2);
    const argv = run.argv("preflight") ?? [];
    const leaderChecks = argv.filter((a) => a.includes(`:${leader?.id} (`));
    expect(leaderChecks.length).toBeGreaterThan(0);
    for (const c of leaderChecks)
      expect(c).toMatch(
        new RegExp(
          `^${leader?.nodes[0]}:10\\.9\\.0\\.\\d+:\\d+:${leader?.id} \\(\\w+\\):${Math.min(...nodes)}-${Math.max(...nodes)}$`,
        ),
      );
  });

  it("a failing node fails the job naming it, before etcd or any worker starts", async () => {
    const { run } = start({}, { STUB_PREFLIGHT: "1 cannot reach etcd on node 0 at 10.9.0.1:10000" });
    const failed = await run.untilEvent("failed");
    expect(failed).toMatchObject({
      component: "preflight",
      message: "node1: cannot reach etcd on node 0 at 10.9.0.1:10000",
    });
    expect(run.events().some((e) => e.event === "started")).toBe(false);
  });

  it("network.preflight: false skips it", async () => {
    const { run } = start({ network: { preflight: false } });
    await run.untilEvent("ready");
    expect(run.argv("preflight")).toBeUndefined();
  });
});
